"""``--reproducible``: batches give the same trials with any number of workers, kills and resumes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import optuna
import pytest
from optuna.trial import TrialState

from metaopt.errors import ConfigError
from metaopt.testing import GATE_ENV, TrialGate
from metaopt.tuning import TuneConfig, resolve
from metaopt.tuning._batches import NoQueuedTrial, QueueOnlyStudy, canonical_trials, optimize_in_batches
from metaopt.tuning._progress import StudyProgress

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _space(trial):
    return {"x": trial.suggest_float("x", -5, 5), "y": trial.suggest_float("y", -5, 5)}


def _objective(trial):
    p = _space(trial)
    time.sleep(random.random() * 0.01)  # finish in a different order each run
    return (p["x"] - 1) ** 2 + (p["y"] + 2) ** 2


def _run(workers: int, trials: int = 24):
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    threads = [threading.Thread(target=optimize_in_batches, args=(study, _objective), kwargs=dict(
        space=_space, sampler="tpe", seed=7, batch_size=4, trials=trials, poll=0.01,
        progress=StudyProgress("s", total=None, initial=0, enabled=False))) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    canon = canonical_trials(study.get_trials())
    return {key: (t.params, t.value) for key, t in canon.items()}, study


@pytest.mark.parametrize("workers", [2, 4])
def test_same_trials_with_one_two_or_four_workers(workers):
    one, _ = _run(1)
    many, study = _run(workers)
    assert len(one) == 24 and many == one  # past TPE's 10 random start-up trials: history-dependent samples
    assert all(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in study.trials)


def test_more_trials_later_equals_all_at_once():
    at_once, _ = _run(1, trials=14)
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    for total in (6, 14):  # 6 leaves batch 1 half full; the resume fills its slots 2-3 first
        optimize_in_batches(study, _objective, space=_space, sampler="tpe", seed=7, batch_size=4, trials=total,
                            progress=StudyProgress("s", total=None, initial=0, enabled=False))
    assert {k: (t.params, t.value) for k, t in canonical_trials(study.get_trials()).items()} == at_once


def test_queue_only_study_never_samples_a_new_trial():
    study = optuna.create_study()
    queue = QueueOnlyStudy(study_name=study.study_name, storage=study._storage)
    with pytest.raises(NoQueuedTrial):
        queue.ask()
    assert study.trials == []
    study.enqueue_trial({"x": 0.5})
    assert queue.ask().suggest_float("x", 0, 1) == 0.5


def test_reproducible_refuses_what_it_cannot_reproduce(tmp_path):
    base = dict(benchmark="sinusoid", algorithms=["fomaml"], storage=f"sqlite:///{tmp_path}/o.db", reproducible=True)
    with pytest.raises(ConfigError, match="--trials"):
        resolve(TuneConfig(**base, timeout=10))
    with pytest.raises(ConfigError, match="time"):
        resolve(TuneConfig(**base, trials=4, objectives=["mse", "time"]))
    with pytest.raises(ConfigError, match="hyperband"):
        resolve(TuneConfig(**base, trials=4, pruner="hyperband"))


TINY_SPACE = '''
from metaopt.testing import gated


@gated
def space(trial):
    return {"algorithm": "fomaml", "inner_lr": trial.suggest_float("inner_lr", 1e-3, 1e-1, log=True),
            "outer_lr": trial.suggest_float("outer_lr", 1e-4, 1e-2, log=True), "meta_batch": 2}
'''


def _cli(tmp_path, workers, gate=None):
    (tmp_path / "tiny_space.py").write_text(TINY_SPACE)
    env = {**{k: v for k, v in os.environ.items() if k != GATE_ENV},
           "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "METAOPT_TUNE_HEARTBEAT": "1",
           **(gate or {})}
    cmd = [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
           "tiny_space:space", "--trials", "5", "--iterations", "30", "--val-every", "5", "--val-tasks", "3",
           "--test-tasks", "5", "--study", "r", "--workers", str(workers), "--pruner", "median", "--seed", "3",
           "--reproducible", "--batch-size", "2", "--no-progress"]
    return cmd, env


def _outcome(tmp_path):
    study = optuna.load_study(study_name="r", storage=f"sqlite:///{tmp_path}/optuna.db")
    canon = canonical_trials(study.get_trials())
    best = study.best_trial
    return ({k: (t.params, t.state, t.value) for k, t in canon.items()},
            (best.user_attrs["batch"], best.user_attrs["slot"]), study.user_attrs["best_test_mean"])


@pytest.mark.slow
def test_cli_one_worker_equals_two_workers_with_a_kill_and_resume(tmp_path):
    one = tmp_path / "one"
    two = tmp_path / "two"
    one.mkdir(), two.mkdir()
    cmd, env = _cli(one, 1)
    done = subprocess.run(cmd, cwd=one, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    gate = TrialGate(tmp_path / "gate")
    # batch 0 runs through; both trials of batch 1 wait at iteration 10 (after two reports): one is killed there
    cmd, env = _cli(two, 2, gate.env(iteration=10, min_batch=1))
    proc = subprocess.Popen(cmd, cwd=two, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        held = gate.wait(2, proc=proc)
        os.kill(held[0]["pid"], signal.SIGKILL)
        gate.release()
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, err[-2000:]
    trials = optuna.load_study(study_name="r", storage=f"sqlite:///{two}/optuna.db").trials
    assert all(trials[h["trial"]].user_attrs["batch"] >= 1 for h in held)
    cmd, env = _cli(two, 2)
    again = subprocess.run(cmd, cwd=two, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    a, b = _outcome(one), _outcome(two)
    assert len(a[0]) == 5 and a == b
