"""`metaopt hyper` as a user runs it: JSON on the last line, bad input exits 2 in one line, and a
run's trajectory lands in the real MLflow SQLite store with its plot."""

from __future__ import annotations

import json

import pytest

from metaopt.testing import run_cli


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    return run_cli(["hyper", *args], capsys)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--method", "unrolled", "--lr-bounds", "1,0.1"], "lr bounds are inconsistent: lower 1.0 > upper 0.1"),
        (["--method", "unrolled", "--lr-bounds", "0.1"], "expected LOW,HIGH"),
        (["--method", "unrolled", "--lr", "0.5", "--lr-bounds", "0.01,0.1"], "initial value 0.5 is outside"),
        (["--method", "unrolled", "--momentum-bounds", "0.5,1.2"], "momentum bounds must lie in [0.0, 1.0)"),
        (["--method", "unrolled", "--learn", "lr,beta"], "cannot learn beta"),
        (["--method", "ift", "--weight-decay-bounds", "0,1"], "weight_decay lower bound must be positive"),
        (["--method", "ift", "--lr-bounds", "0.1,1"], "--lr-bounds does not apply to ift"),
        (["--method", "hd", "--lr", "-1"], "expected a positive number"),
        (["--method", "inner"], "--method inner needs --algorithm"),
        (["--method", "inner", "--algorithm", "maml", "--learn", "momentum"], "must include lr"),
        (["--method", "inner", "--algorithm", "nosuch"], "unknown algorithm 'nosuch'"),
        (["--method", "newton"], "invalid choice: 'newton'"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needle, capsys):
    code, _, err = _run([*args, "--steps", "5", "--iterations", "2", "--no-mlflow", "--no-progress"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("metaopt: error:") and needle in lines[0], err


@pytest.mark.parametrize("method", ["unrolled", "ift", "hd"])
def test_classifier_methods_print_json_last(method, capsys):
    code, out, _ = _run(["--method", method, "--steps", "20", "--horizon", "5", "--every", "5", "--neumann-terms",
                         "3", "--hidden", "16", "--no-mlflow", "--no-progress", "--json"], capsys)
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["method"] == method and result["steps"] == 20 and result["mlflow_run_id"] is None
    assert 0 < result["scores"]["val_loss"] < 10 and result["hyperparameters"]["lr"] > 0


def test_inner_and_meta_hd_print_json_last(capsys):
    results = {}
    for args in (["--method", "inner", "--learn", "lr,momentum"], ["--method", "hd", "--hd-optimizer", "adam"],
                 ["--method", "inner", "--per-element", "--shared-steps"]):
        code, out, _ = _run([*args, "--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5",
                             "--inner-steps", "2", "--iterations", "4", "--meta-batch", "2", "--test-tasks", "5",
                             "--no-mlflow", "--no-progress", "--json"], capsys)
        assert code == 0
        results[" ".join(args[1:])] = result = json.loads(out.strip().splitlines()[-1])
        assert result["steps"] == 4 and result["scores"]["test_mse"] > 0 and "outer_lr" in result["hyperparameters"]
    inner = results["inner --learn lr,momentum"]["hyperparameters"]
    assert {"inner.lr.0.0", "inner.lr.1.0", "inner.momentum.0"} <= set(inner)  # per step, per tensor
    assert results["hd --hd-optimizer adam"]["hyperparameters"]["outer_lr"] != pytest.approx(1e-3)  # HD moved it
    assert "inner.lr.0.0.mean" in results["inner --per-element --shared-steps"]["hyperparameters"]


def test_trajectory_metrics_and_plot_in_the_real_mlflow_store(tmp_path, monkeypatch, capsys):
    import mlflow

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code, out, _ = _run(["--method", "ift", "--steps", "30", "--every", "10", "--neumann-terms", "3", "--hidden", "8",
                         "--tracking-uri", uri, "--experiment", "hyper-test", "--no-progress", "--json"], capsys)
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    client = mlflow.MlflowClient(uri)
    run = client.get_run(result["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.data.params["method"] == "ift"
    history = client.get_metric_history(run.info.run_id, "hp/weight_decay.0")
    assert [m.step for m in history] == [10, 20, 30]
    assert history[-1].value == pytest.approx(result["hyperparameters"]["weight_decay.0"], rel=1e-6)
    assert {f"hp/weight_decay.{i}" for i in range(4)} <= set(run.data.metrics)
    assert "hyperparameters.png" in [a.path for a in client.list_artifacts(run.info.run_id)]
