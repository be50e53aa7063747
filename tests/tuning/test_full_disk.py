"""A disk that fills in the middle of a study (issue #33), made to happen at a chosen trial and meta-iteration:
from then on every SQL write of that process fails as SQLite's does on a full disk (``metaopt.testing``'s
gate, ``action="disk_full"``). The command exits 4 with one line (it was exit 1, 117 lines ending in Optuna's
``AssertionError: Should not reach.``); the same command run again on a disk with room exits 0, retries the
trial the full disk left RUNNING, and leaves none."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from metaopt.errors import ConfigError
from metaopt.testing import TrialGate
from metaopt.tuning._storage import (
    EXIT_STORAGE_LOST,
    describe_storage_error,
    quiet_lost_storage_in_threads,
    storage_lost,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

TRIALS = 3


def _cmd(workers: int) -> list[str]:
    return [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
            "tiny_space:space", "--trials", str(TRIALS), "--iterations", "20", "--val-every", "5", "--val-tasks",
            "3", "--test-tasks", "5", "--study", "d", "--workers", str(workers), "--pruner", "none", "--sampler",
            "random", "--storage", "sqlite:///optuna.db", "--tracking-uri", "sqlite:///mlflow.db", "--no-progress"]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_full_disk_mid_study_is_exit_4_in_one_line_and_a_rerun_finishes(tmp_path, tiny_space, workers):
    gate = TrialGate(tmp_path / "gate")
    # trial 0 runs through; the disk fills at iteration 10 of the first later trial of each process
    env = tiny_space(gate.env(iteration=10, min_trial=1, action="disk_full"))
    full = subprocess.run(_cmd(workers), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert full.returncode == EXIT_STORAGE_LOST == 4, full.stderr[-3000:]
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1, full.stderr[-3000:]
    assert lines[0].startswith("metaopt: lost the study storage mid-study") and "database or disk is full" in lines[0]
    assert "run the same command again" in lines[0]
    study = optuna.load_study(study_name="d", storage=f"sqlite:///{tmp_path}/optuna.db")
    struck = [study.trials[h["trial"]] for h in gate.held()]
    assert struck and study.trials[0].state == TrialState.COMPLETE
    finished = {t.number: t.value for t in study.trials if t.state == TrialState.COMPLETE}

    again = subprocess.run(_cmd(workers), cwd=tmp_path, env=tiny_space(), capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    trials = optuna.load_study(study_name="d", storage=f"sqlite:///{tmp_path}/optuna.db").trials
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert all(trials[n].value == v for n, v in finished.items())  # nothing written before the disk filled is lost
    assert sum(t.state == TrialState.COMPLETE for t in trials) == TRIALS
    for t in struck:  # failed, not by its own error, and run again with the same parameters
        assert trials[t.number].state == TrialState.FAIL and "fail_reason" not in trials[t.number].user_attrs
        assert any(r.params == t.params and r.state == TrialState.COMPLETE for r in trials
                   if (r.system_attrs.get("retry_history") or [None])[-1] == t.number)


def _full_disk_error() -> optuna.exceptions.StorageInternalError:
    try:
        try:
            raise sqlalchemy.exc.OperationalError("UPDATE trials", {}, sqlite3.OperationalError(
                "database or disk is full"))
        except sqlalchemy.exc.OperationalError as exc:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc
    except optuna.exceptions.StorageInternalError as exc:
        return exc


def test_an_error_raised_while_handling_a_lost_storage_is_a_lost_storage():
    """Optuna answers a tell it cannot write with ``AssertionError: Should not reach.``, raised while handling
    the storage's error: that is the study's database, named by the database's own line."""
    try:
        try:
            raise _full_disk_error()
        except optuna.exceptions.StorageInternalError:
            raise AssertionError("Should not reach.")  # noqa: B904 - as Optuna raises it, in a finally
    except AssertionError as exc:
        masked = exc
    assert storage_lost(masked) and describe_storage_error(masked) == "database or disk is full"
    assert not storage_lost(AssertionError("a bug"))
    try:
        try:
            raise _full_disk_error()
        except optuna.exceptions.StorageInternalError:
            raise ConfigError("cannot open storage sqlite:///x.db") from None
    except ConfigError as exc:
        assert not storage_lost(exc)  # bad input, exit 2, whatever it was raised from


def test_a_thread_that_meets_a_lost_storage_prints_nothing_other_threads_still_do(monkeypatch):
    seen = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))  # the printing hook

    def run(exc):
        def target():
            raise exc
        t = threading.Thread(target=target)
        t.start()
        t.join()

    with quiet_lost_storage_in_threads():
        run(_full_disk_error())  # Optuna's heartbeat thread, the first to meet a full disk
        assert seen == []
        bug = ValueError("a bug in a thread")
        run(bug)
        assert seen == [bug]
    run(_full_disk_error())
    assert len(seen) == 2  # the hook is back as it was after the block
