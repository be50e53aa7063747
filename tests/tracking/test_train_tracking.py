"""`metaopt train --track` on the embedded store: run status follows how training ended."""

from __future__ import annotations

import json

import pytest

from metaopt.cli import main
from metaopt.trainer import MetaTrainer, TrainingDiverged

BASE = ["train", "--algorithm", "fomaml", "--benchmark", "sinusoid", "--shots", "5", "--iterations", "4",
        "--meta-batch", "2", "--val-every", "2", "--val-tasks", "3", "--test-tasks", "4", "--no-progress"]


def _runs(tracking_uri: str, experiment: str):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id])


def _code(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize("error,code,status", [
    (TrainingDiverged("meta-loss became nan at iteration 1"), 1, "FAILED"),
    (KeyboardInterrupt(), 130, "KILLED"),
])
def test_interrupted_or_diverged_training_ends_its_run(monkeypatch, tracking_uri, experiment, tmp_path, error, code,
                                                        status):
    def broken_fit(self):
        raise error

    monkeypatch.setattr(MetaTrainer, "fit", broken_fit)
    args = [*BASE, "--out", str(tmp_path / "r"), "--tracking-uri", tracking_uri, "--experiment", experiment]
    assert _code(args) == code
    (run,) = _runs(tracking_uri, experiment)
    assert run.info.status == status and run.data.params["algorithm"] == "fomaml"


def test_without_track_nothing_is_logged(tracking_uri, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    assert _code([*BASE, "--out", str(tmp_path / "r"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "mlflow_run_id" not in summary and not (tmp_path / "r" / "mlflow_run.json").exists()
    assert _runs(tracking_uri, "metaopt-train") == []


def test_track_uses_the_env_store_and_default_experiment(tracking_uri, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    assert _code([*BASE, "--out", str(tmp_path / "tracked"), "--track", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (run,) = [r for r in _runs(tracking_uri, "metaopt-train") if r.info.run_name == "tracked"]
    assert run.info.run_id == summary["mlflow_run_id"] and run.info.status == "FINISHED"
    assert run.data.metrics["test_mse"] == pytest.approx(summary["mean"])
