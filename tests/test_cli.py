"""The command line as a user runs it: results on the last line, bad input exits 2 in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metaopt.testing import run_cli

FMNIST = Path("/usr/share/datasets/fashion-mnist")


_run = run_cli


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("metaopt: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in err


def test_train_then_evaluate_prints_json_last_line(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = _run(["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5",
                            "--iterations", "20", "--meta-batch", "4", "--val-every", "10", "--val-tasks", "10",
                            "--test-tasks", "30", "--out", str(out), "--no-progress", "--json"], capsys)
    assert code == 0
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["algorithm"] == "maml" and result["benchmark"] == "sinusoid" and result["metric"] == "mse"
    assert result["mean"] > 0 and result["ci95"] > 0 and result["test_tasks"] == 30
    code, stdout, _ = _run(["evaluate", "--checkpoint", str(out), "--tasks", "30", "--no-progress", "--json"], capsys)
    again = json.loads(stdout.strip().splitlines()[-1])
    assert code == 0 and again["mean"] == pytest.approx(result["mean"])
    # Running the same command again resumes: nothing left to train, same answer.
    code, stdout, _ = _run(["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5",
                            "--iterations", "20", "--meta-batch", "4", "--val-every", "10", "--val-tasks", "10",
                            "--test-tasks", "30", "--out", str(out), "--no-progress", "--json"], capsys)
    resumed = json.loads(stdout.strip().splitlines()[-1])
    assert resumed["resumed"] and resumed["mean"] == pytest.approx(result["mean"])


def test_train_scores_are_the_files_evaluate_writes(tmp_path, capsys):
    """``train --scores`` saves the 600-task re-evaluation that ``evaluate --scores`` would cost."""
    out, trained, evaluated = tmp_path / "run", tmp_path / "trained.json", tmp_path / "evaluated.json"
    code, _, _ = _run(["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5", "--iterations", "10",
                       "--meta-batch", "4", "--val-every", "5", "--val-tasks", "10", "--test-tasks", "30",
                       "--out", str(out), "--scores", str(trained), "--no-progress"], capsys)
    assert code == 0
    code, _, _ = _run(["evaluate", "--checkpoint", str(out), "--tasks", "30", "--no-progress",
                       "--scores", str(evaluated)], capsys)
    assert code == 0
    a, b = json.loads(trained.read_text()), json.loads(evaluated.read_text())
    assert len(a["per_task"]) == 30 and a["per_task"] == pytest.approx(b["per_task"])
    assert {k: v for k, v in a.items() if k != "per_task"} == pytest.approx({k: v for k, v in b.items()
                                                                             if k != "per_task"})


def test_list_json(capsys):
    code, stdout, _ = _run(["list", "algorithms", "--json"], capsys)
    names = {row["name"] for row in json.loads(stdout)["items"]}
    assert code == 0 and {"maml", "fomaml", "anil", "metasgd", "mamlpp", "reptile", "metacurvature", "taml"} <= names
    code, stdout, _ = _run(["list", "benchmarks", "--json"], capsys)
    assert {"sinusoid", "glyphs"} <= {row["name"] for row in json.loads(stdout)["items"]}


@pytest.mark.parametrize(
    "args,needles",
    [
        (["train", "--algorithm", "nope"], ["'nope'"]),
        (["train", "--benchmark", "imagenet-9000"], ["'imagenet-9000'"]),
        (["train", "--inner-lr", "0"], ["--inner-lr", "0"]),
        (["train", "--outer-lr", "-3"], ["--outer-lr", "-3"]),
        (["train", "--inner-steps", "0"], ["--inner-steps", "0"]),
        (["train", "--iterations", "abc"], ["--iterations", "abc"]),
        (["train", "--ways", "5"], ["--ways"]),
        (["train", "--param", "no_such=1"], ["no_such"]),
        (["evaluate", "--checkpoint", "/nonexistent/run"], ["/nonexistent/run"]),
        (["list", "things"], ["things"]),
        (["train", "--algorithm", "protonet", "--benchmark", "sinusoid"], ["protonet", "regression", "sinusoid"]),
        (["train", "--engine", "higher", "--compile"], ["--compile", "higher"]),
        (["train", "--inner-checkpoint", "--compile"], ["--compile", "--inner-checkpoint"]),
        (["train", "--algorithm", "protonet", "--benchmark", "glyphs", "--ways", "5", "--compile"],
         ["protonet", "--compile"]),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needles, capsys):
    code, _, err = _run(args, capsys)
    _assert_one_line_error(code, err, *needles)


def test_unreadable_checkpoint_exits_2(tmp_path, capsys):
    _run(["train", "--shots", "5", "--iterations", "2", "--meta-batch", "2", "--val-every", "2", "--val-tasks", "2",
          "--test-tasks", "2", "--out", str(tmp_path), "--no-progress"], capsys)
    (tmp_path / "checkpoint.pt").write_bytes(b"this is not a checkpoint")
    code, _, err = _run(["evaluate", "--checkpoint", str(tmp_path)], capsys)
    _assert_one_line_error(code, err, "not a readable checkpoint")


def test_changed_config_in_existing_out_is_refused(tmp_path, capsys):
    base = ["train", "--shots", "5", "--iterations", "2", "--meta-batch", "2", "--val-every", "2", "--val-tasks", "2",
            "--test-tasks", "2", "--out", str(tmp_path), "--no-progress"]
    assert _run(base, capsys)[0] == 0
    code, _, err = _run([*base, "--inner-lr", "0.5"], capsys)
    _assert_one_line_error(code, err, "learner")


@pytest.mark.skipif(not FMNIST.is_dir(), reason="Debian dataset-fashion-mnist not installed")
@pytest.mark.parametrize(
    "args,needles",
    [
        (["--ways", "50"], ["ways=50"]),
        (["--ways", "2", "--shots", "6990", "--queries", "20"], ["shots+queries=7010"]),
    ],
)
def test_episode_shape_errors_on_real_data(args, needles, capsys):
    code, _, err = _run(["train", "--algorithm", "maml", "--benchmark", "fashion-mnist", *args], capsys)
    _assert_one_line_error(code, err, *needles)


def test_console_script_exits_2_without_traceback():
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "metaopt", "train", "--algorithm", "nope"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    from metaopt.algorithms import available_learners

    assert proc.stderr.strip() == "metaopt: error: unknown algorithm 'nope'; choose from " + ", ".join(
        available_learners())


def test_import_metaopt_is_light():
    code = "import sys, metaopt; print(sorted(m for m in ('torch', 'mlflow', 'optuna', 'higher') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_run_saved_before_an_option_existed_still_resumes(tmp_path, capsys):
    base = ["train", "--shots", "5", "--iterations", "2", "--meta-batch", "2", "--val-every", "2", "--val-tasks", "2",
            "--test-tasks", "2", "--out", str(tmp_path), "--no-progress", "--json"]
    assert _run(base, capsys)[0] == 0
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["train"]["grad_clip"]  # as written by a metaopt that had no --grad-clip yet
    (tmp_path / "config.json").write_text(json.dumps(saved))
    code, stdout, err = _run(base, capsys)
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["resumed"]
