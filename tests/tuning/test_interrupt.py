"""Ctrl-C in the middle of a study (issue #33): every process of the terminal's group gets SIGINT while its
trials are mid-way (held at a gate, not caught by chance). The command exits 130 with one line, leaves no
trial RUNNING, and the same command run again exits 0, finishes the budget and runs each interrupted
parameter set exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from metaopt.testing import TrialGate

optuna.logging.set_verbosity(optuna.logging.WARNING)

TRIALS = 4


def _cmd(workers: int) -> list[str]:
    return [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
            "tiny_space:space", "--trials", str(TRIALS), "--iterations", "20", "--val-every", "5", "--val-tasks",
            "3", "--test-tasks", "5", "--study", "i", "--workers", str(workers), "--pruner", "none", "--sampler",
            "random", "--storage", "sqlite:///optuna.db", "--tracking-uri", "sqlite:///mlflow.db", "--no-progress"]


def _trials(tmp_path):
    return optuna.load_study(study_name="i", storage=f"sqlite:///{tmp_path}/optuna.db").trials


@pytest.mark.slow
@pytest.mark.parametrize("workers, to", [(2, "group"), (2, "parent"), (1, "group")])
def test_ctrl_c_mid_study_leaves_no_running_trial_and_a_rerun_finishes(tmp_path, tiny_space, workers, to):
    gate = TrialGate(tmp_path / "gate")
    cmd = _cmd(workers)
    # its own process group, as a terminal's foreground job: Ctrl-C is SIGINT to every process in it. A
    # foreground job takes SIGINT (pytest run as a shell's background job ignores it, and so would metaopt)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=tiny_space(gate.env(iteration=10)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        held = gate.wait(workers, proc=proc)  # every worker mid-trial, two validations reported
        if to == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:  # `kill -INT` on the tune process alone: it passes the interrupt on to its workers
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err[-3000:]
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err[-3000:]

    trials = _trials(tmp_path)
    interrupted = [trials[h["trial"]] for h in held]
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert all(t.state == TrialState.FAIL and "fail_reason" not in t.user_attrs for t in interrupted)
    queued = [t for t in trials if t.state == TrialState.WAITING]
    assert sorted(t.system_attrs["failed_trial"] for t in queued) == [t.number for t in interrupted]
    assert all(t.params == trials[t.system_attrs["failed_trial"]].params for t in queued)
    assert not any((tmp_path / "runs" / "i" / f"trial-{t.number:04d}").exists() for t in interrupted)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("i").experiment_id])
    assert {client.get_run(t.user_attrs["mlflow_run_id"]).info.status for t in interrupted} == {"KILLED"}
    assert all(r.info.status != "RUNNING" for r in runs)

    again = subprocess.run(cmd, cwd=tmp_path, env=tiny_space(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Error" not in again.stderr, again.stderr[-3000:]
    trials = _trials(tmp_path)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == TRIALS
    # each interrupted parameter set ran once more, and no parameter set ran twice
    assert len({t.params["inner_lr"] for t in complete}) == TRIALS
    assert {t.params["inner_lr"] for t in interrupted} <= {t.params["inner_lr"] for t in complete}
    assert f"{len(interrupted)} failed because their worker died or was interrupted" in again.stdout


def test_a_retry_starts_without_the_failed_attempts_worker():
    """A retry that named its dead predecessor's worker was failed under the worker that popped it, by another
    process's recovery, before that worker had set its own name (UpdateFinishedTrialError)."""
    from metaopt.tuning._storage import retry_callback

    study = optuna.create_study()
    study.enqueue_trial({"x": 1.0}, user_attrs={"batch": 2, "slot": 1})
    trial = study.ask()
    trial.suggest_float("x", 0, 2)
    for key, value in (("worker", "host:1"), ("mlflow_run_id", "abc"), ("run_dir", "runs/s/trial-0000")):
        trial.set_user_attr(key, value)
    study.tell(trial, state=TrialState.FAIL)
    retry_callback()(study, study.trials[0])
    retry = study.trials[1]
    assert retry.state == TrialState.WAITING and retry.params == {"x": 1.0}
    assert retry.user_attrs == {"batch": 2, "slot": 1} and retry.system_attrs["failed_trial"] == 0


def test_a_resumed_seeded_study_draws_new_parameters_and_the_same_ones_each_time(tmp_path):
    """A sampler seeded on resume as at the start drew the first trials' parameters again."""
    import shutil

    from metaopt.tuning import TuneConfig, resolve
    from metaopt.tuning._study import load_study

    def draw(db, n):
        cfg = resolve(TuneConfig(benchmark="sinusoid", algorithms=["fomaml"], trials=9, storage=f"sqlite:///{db}",
                                 study="s", sampler="random", seed=5))
        study = load_study(cfg)
        out = []
        for _ in range(n):
            t = study.ask()
            out.append(t.suggest_float("x", 0, 1))
            study.tell(t, 0.0)
        return out

    first = draw(tmp_path / "a.db", 2)
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    resumed = draw(tmp_path / "a.db", 2)
    assert not set(first) & set(resumed)
    assert draw(tmp_path / "b.db", 2) == resumed  # the same study resumed the same way draws the same numbers


def test_interrupt_once_raises_for_the_first_sigint_only_and_leaves_an_ignored_one_ignored():
    from metaopt.tuning._workers import interrupt_once

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupt_once():
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                finally:
                    os.kill(os.getpid(), signal.SIGINT)  # the cleanup after the first is not cut short
                    cleaned = True
        assert cleaned and signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a shell's background job: Ctrl-C is not for it
        with interrupt_once():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)


def test_two_processes_cannot_both_pop_the_same_queued_trial(tmp_path, monkeypatch):
    """Optuna pops a queued trial by reading it WAITING and then writing RUNNING, trusting ``SELECT ... FOR
    UPDATE``, which SQLite ignores: two workers resuming a study with queued retries both ran the same one.
    Here one pop is held between its read and its write until the other pop has finished (or 3 s have passed,
    the other being locked out): exactly one of them may get the trial."""
    import threading

    from optuna.storages._rdb import models

    from metaopt.tuning._storage import open_storage

    url = f"sqlite:///{tmp_path}/q.db"
    first, second = open_storage(url), open_storage(url)  # two processes' connections to one file
    study = optuna.create_study(storage=first, study_name="q")
    study.enqueue_trial({"x": 1.0})
    trial_id = study.trials[0]._trial_id
    read = models.TrialModel.find_or_raise_by_id.__func__
    other_may_start, other_done, got = threading.Event(), threading.Event(), {}

    def held_after_reading(cls, *args, **kwargs):
        row = read(cls, *args, **kwargs)
        if threading.current_thread().name == "first":
            other_may_start.set()
            other_done.wait(timeout=3)
        return row

    monkeypatch.setattr(models.TrialModel, "find_or_raise_by_id", classmethod(held_after_reading))

    def pop(name, storage):
        got[name] = storage.set_trial_state_values(trial_id, state=TrialState.RUNNING)
        if name == "second":
            other_done.set()

    threads = [threading.Thread(target=pop, args=("first", first), name="first"),
               threading.Thread(target=pop, args=("second", second), name="second")]
    threads[0].start()
    assert other_may_start.wait(timeout=30)
    threads[1].start()
    for t in threads:
        t.join(timeout=120)
    assert got == {"first": True, "second": False}
