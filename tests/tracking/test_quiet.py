"""A command's terminal shows what is the user's: no MLflow/Optuna housekeeping lines, no raw ANSI codes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tracking_studies import make_study

from metaopt.tracking._quiet import no_artifact_progress_bars, optuna_quiet, quiet_library_logs

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("Creating initial MLflow database tables", "Updating database tables", "Creating a new experiment",
         "type hints", "Downloading artifacts", "A new study created", "\x1b[")


def _run(args: list[str], cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "metaopt", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_helpers_restore_what_they_change(monkeypatch):
    import optuna

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    with no_artifact_progress_bars():
        assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"
    before = optuna.logging.get_verbosity()
    with optuna_quiet():
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    assert optuna.logging.get_verbosity() == before
    logging.getLogger("alembic").setLevel(logging.ERROR)  # a user's stricter choice is kept
    quiet_library_logs()
    assert logging.getLogger("alembic").level == logging.ERROR
    assert logging.getLogger("mlflow.store.db.utils").level == logging.WARNING


@pytest.mark.slow
def test_tracked_training_with_registration_prints_only_the_users_lines(tmp_path):
    """A fresh store (tables created), a new experiment and a registered model: the noise list of issue 15."""
    out = _run(["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--iterations", "2", "--meta-batch", "2",
                "--val-every", "1", "--val-tasks", "2", "--test-tasks", "2", "--out", "run", "--no-progress",
                "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--register-model", "quiet-sin"], tmp_path)
    assert not [n for n in NOISE if n in out], out
    assert "maml on sinusoid: mse" in out and "Created version '1' of model 'quiet-sin'" in out, out


def test_report_prints_no_optuna_chatter(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    make_study(storage, n_trials=8)
    out = _run(["report", "--storage", storage, "--out", str(tmp_path / "r.html"), "--no-mlflow"], tmp_path)
    assert not [n for n in NOISE if n in out], out
    assert "written to" in out
