"""Progress inside a trial, how trials count against --trials, and the small-study flags end to end."""

from __future__ import annotations

import json
import time

import optuna
import pytest
from optuna.trial import TrialState

from metaopt.cli import main
from metaopt.tuning import counts, describe_counts
from metaopt.tuning._loop import OverBudget, _guard
from metaopt.tuning._progress import TrialProgress, WorkerBoard, format_status, write_status

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _Trainer:
    class state:  # noqa: N801 - stands in for TrainState
        iteration = 0


class _Result:
    mean = 0.25


def test_trial_progress_reports_iteration_and_last_validation():
    seen = []
    cb = TrialProgress(seen.append, trial=3, iterations=50, metric="mse", min_interval=3600)
    cb.on_train_begin(_Trainer())
    cb.on_iteration_end(_Trainer(), 1, {})  # throttled: within min_interval of the first emit
    cb.on_validation_end(_Trainer(), 10, _Result())
    assert len(seen) == 2 and seen[-1] == {"trial": 3, "iteration": 10, "iterations": 50, "metric": "mse",
                                           "val": 0.25}
    assert format_status(seen[-1]) == "trial 3 it 10/50 val_mse 0.25"
    assert format_status({"trial": None}) == "idle"


def test_worker_board_reads_each_workers_status(tmp_path):
    write_status(tmp_path / "worker-0.json", {"trial": 4, "iteration": 7, "iterations": 20, "metric": "accuracy",
                                              "val": 0.5})
    board = WorkerBoard("s", total=3, initial=0, workers=2, folder=tmp_path, enabled=False)
    assert board.refresh(alive=[True, False]) == ["worker 0: trial 4 it 7/20 val_accuracy 0.5",
                                                  "worker 1: exited (starting)"]


def _fixed(state, **attrs):
    return optuna.trial.create_trial(state=state, value=1.0 if state == TrialState.COMPLETE else None,
                                     user_attrs=attrs)


def test_counts_say_what_was_not_counted_against_the_budget():
    trials = [_fixed(TrialState.COMPLETE), _fixed(TrialState.PRUNED), _fixed(TrialState.FAIL, fail_reason="nan"),
              _fixed(TrialState.FAIL), _fixed(TrialState.FAIL, over_budget=True), _fixed(TrialState.COMPLETE)]
    c = counts(trials)
    assert c == {"counted": 4, "killed": 1, "over_budget": 1, "discarded": 0}
    line = describe_counts({"study": "s", "trials": 6, "trial_counts": c, "trials_budget": 4,
                            "states": {"complete": 2, "pruned": 1, "fail": 3}})
    assert "4 counted against --trials 4" in line and "1 failed because their worker died" in line
    assert "1 started after the budget was spent" in line


def test_a_trial_asked_after_the_budget_was_spent_does_no_work():
    study = optuna.create_study()
    for _ in range(2):
        study.add_trial(_fixed(TrialState.COMPLETE))
    ran = []
    guarded = _guard(study, lambda t: ran.append(t.number) or 0.0, trials=2)
    with pytest.raises(OverBudget):
        guarded(study.ask())
    assert ran == [] and guarded.__name__ == "guarded"
    assert _guard(study, lambda t: 1.0, trials=4)(study.ask()) == 1.0


def test_small_study_flags_reach_every_trial_and_the_final_evaluation(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms", "fomaml", "--trials", "2",
                 "--iterations", "4", "--val-every", "2", "--val-tasks", "3", "--test-tasks", "7", "--study", "small",
                 "--sampler", "random", "--pruner", "none", "--no-progress", "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert code == 0 and summary["test_tasks"] == 7 and summary["trial_counts"]["counted"] == 2
    assert "2 counted against --trials 2" in out[0]
    study = optuna.load_study(study_name="small", storage=f"sqlite:///{tmp_path}/optuna.db")
    for t in study.trials:
        assert len(t.user_attrs["val_scores"]) == 3 and sorted(t.intermediate_values) == [2, 4]


def test_a_worker_waits_for_others_running_trials_but_not_for_ever():
    from metaopt.tuning import optimize_within_budget

    study = optuna.create_study()
    study.add_trial(_fixed(TrialState.COMPLETE))
    study.ask()  # RUNNING, never heard from again (its process died before its first heartbeat)
    started = time.monotonic()
    ran = optimize_within_budget(study, lambda t: 0.0, trials=2, timeout=30, progress=False, poll=0.05, linger=0.5)
    assert ran == 0 and 0.5 <= time.monotonic() - started < 10
