"""``--workers``: a worker killed with SIGKILL mid-trial ends the command with one line naming it, its
trial and the retry, exit code 3; the study is whole and a re-run finishes it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from metaopt.testing import TrialGate
from metaopt.tuning import EXIT_WORKER_DIED

optuna.logging.set_verbosity(optuna.logging.WARNING)

def _study(tmp_path):
    return optuna.load_study(study_name="w", storage=f"sqlite:///{tmp_path}/optuna.db")


@pytest.mark.slow
def test_killed_worker_is_one_line_with_exit_code_3_then_rerun_finishes(tmp_path, tiny_space):
    gate = TrialGate(tmp_path / "gate")
    env = tiny_space(gate.env(iteration=10))  # each trial waits at iteration 10: the kill lands mid-trial
    cmd = [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
           "tiny_space:space", "--trials", "3", "--iterations", "60", "--val-every", "5", "--val-tasks", "3",
           "--test-tasks", "5", "--study", "w", "--workers", "2", "--pruner", "none", "--sampler", "random",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        held = gate.wait(2, proc=proc)
        victim = _study(tmp_path).trials[held[0]["trial"]]
        pid = held[0]["pid"]
        assert victim.state == TrialState.RUNNING and victim.intermediate_values
        os.kill(pid, signal.SIGKILL)
        gate.release()  # the other worker finishes its trial, then runs the retry
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == EXIT_WORKER_DIED == 3, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    match = re.fullmatch(rf"metaopt: 1 of 2 workers died: worker \d \(pid {pid}, killed by SIGKILL\) during trial "
                         rf"{victim.number}, retried as trial (\d+); finished trials are kept, re-run the same "
                         r"command to resume", last)
    assert match, last
    trials = _study(tmp_path).trials
    retry = trials[int(match.group(1))]
    assert trials[victim.number].state == TrialState.FAIL and retry.params == victim.params
    assert retry.system_attrs["failed_trial"] == victim.number
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("w").experiment_id])
    assert all(r.info.status != "RUNNING" for r in runs)
    assert client.get_run(victim.user_attrs["mlflow_run_id"]).info.status == "KILLED"
    finished = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}

    again = subprocess.run(cmd, cwd=tmp_path, env=tiny_space(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    trials = _study(tmp_path).trials
    assert {t.number: t.value for t in trials if t.state == TrialState.COMPLETE} == finished  # nothing lost
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    assert "test mse" in again.stdout and "1 failed because their worker died" in again.stdout


def test_lost_storage_is_one_line_with_exit_code_4(tmp_path, monkeypatch, capsys):
    """The database going away mid-study (measured: PostgreSQL killed) is one line and exit 4, no traceback."""
    import sqlalchemy.exc

    import metaopt.tuning
    from metaopt.testing import run_cli
    from metaopt.tuning._storage import EXIT_STORAGE_LOST

    def down(cfg):
        raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from \
            sqlalchemy.exc.OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(metaopt.tuning, "tune", down)
    code, _, err = run_cli(["tune", "--benchmark", "sinusoid", "--trials", "2", "--storage",
                            f"sqlite:///{tmp_path}/o.db", "--no-progress"], capsys)
    assert code == EXIT_STORAGE_LOST == 4
    assert len(err.strip().splitlines()) == 1 and "lost the study storage" in err
    assert "server closed the connection unexpectedly" in err and "run the same command again" in err


def test_workers_that_lost_the_storage_are_reported_as_that():
    from metaopt.tuning._storage import StorageLost, describe_storage_error, storage_lost

    exc = StorageLost("workers 0, 1 of 2, see their lines above")
    assert storage_lost(exc) and describe_storage_error(exc) == "workers 0, 1 of 2, see their lines above"
    assert not storage_lost(RuntimeError("a bug"))
    assert "***" in describe_storage_error(RuntimeError("could not connect to postgresql://me:pw@db/o"))
