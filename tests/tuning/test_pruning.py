"""Pruners: the per-task Wilcoxon pruner on fabricated trials, the trainer callback on a fake trial."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from metaopt.errors import ConfigError
from metaopt.evaluation import EvalResult, mean_ci95
from metaopt.tuning import PRUNERS, PruningCallback, TaskWilcoxonPruner, make_pruner

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _trial(scores_by_step, value=None, state=TrialState.COMPLETE):
    last = max(scores_by_step)
    return create_trial(
        state=state, value=value if state == TrialState.COMPLETE else None,
        params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)},
        intermediate_values={s: float(np.mean(v)) for s, v in scores_by_step.items()},
        user_attrs={"val_scores_by_step": {str(s): list(v) for s, v in scores_by_step.items()},
                    "val_scores": list(scores_by_step[last])},
    )


def _study(best_scores, direction="maximize", n_complete=5):
    study = optuna.create_study(direction=direction)
    rng = np.random.default_rng(0)
    worse = -0.2 if direction == "maximize" else 0.2
    for _ in range(n_complete - 1):  # weaker completed trials
        scores = best_scores + worse + 0.01 * rng.random(len(best_scores)) * np.sign(worse)
        study.add_trial(_trial({10: list(scores)}, value=float(np.mean(scores))))
    study.add_trial(_trial({10: list(best_scores)}, value=float(np.mean(best_scores))))
    return study


def test_wilcoxon_prunes_a_trial_clearly_worse_task_by_task():
    rng = np.random.default_rng(1)
    best = rng.uniform(0.4, 1.0, 40)  # task difficulty varies a lot...
    study = _study(best)
    worse = _trial({10: list(best - 0.03 - 0.01 * rng.random(40))}, state=TrialState.RUNNING)
    # ...so the mean difference (0.035) is well inside the spread of task scores, but every task is worse.
    assert TaskWilcoxonPruner(n_startup_trials=5).prune(study, worse)
    same = _trial({10: list(best + rng.normal(0, 0.02, 40))}, state=TrialState.RUNNING)
    assert not TaskWilcoxonPruner(n_startup_trials=5).prune(study, same)


def test_wilcoxon_respects_direction_startup_and_warmup():
    best = np.linspace(0.5, 2.0, 30)  # MSE: lower is better
    study = _study(best, direction="minimize")
    higher = _trial({10: list(best + 0.1)}, state=TrialState.RUNNING)
    lower = _trial({10: list(best - 0.1)}, state=TrialState.RUNNING)
    pruner = TaskWilcoxonPruner(n_startup_trials=5)
    assert pruner.prune(study, higher) and not pruner.prune(study, lower)
    assert not TaskWilcoxonPruner(n_startup_trials=6).prune(study, higher)
    assert not TaskWilcoxonPruner(n_startup_trials=5, n_warmup_steps=20).prune(study, higher)


def test_wilcoxon_compares_at_the_same_iteration():
    best = np.linspace(0.3, 0.9, 30)
    study = optuna.create_study(direction="maximize")
    for _ in range(5):
        study.add_trial(_trial({10: list(best - 0.2), 20: list(best)}, value=float(best.mean())))
    # At iteration 10 this trial beats where the best trial was at 10, though not its final scores.
    early = _trial({10: list(best - 0.1)}, state=TrialState.RUNNING)
    assert not TaskWilcoxonPruner(n_startup_trials=1).prune(study, early)


class _FakeTrial:
    def __init__(self, prune: bool):
        self.attrs, self.reports, self._prune = {}, [], prune

    def set_user_attr(self, key, value):
        self.attrs[key] = value

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self._prune


class _FakeTrainer:
    class state:  # noqa: N801 - stands in for TrainState
        best_iteration = 10


def _result(scores):
    mean, ci = mean_ci95(scores)
    return EvalResult("accuracy", mean, ci, len(scores), scores)


def test_pruning_callback_reports_records_and_raises():
    trial = _FakeTrial(prune=False)
    cb = PruningCallback(trial)
    cb.on_validation_end(_FakeTrainer(), 10, _result([0.2, 0.4]))
    assert trial.reports == [(10, pytest.approx(0.3))]
    assert trial.attrs["val_scores"] == [0.2, 0.4] and trial.attrs["val_scores_by_step"] == {"10": [0.2, 0.4]}
    trial._prune = True
    with pytest.raises(optuna.TrialPruned):
        cb.on_validation_end(_FakeTrainer(), 20, _result([0.1, 0.1]))
    assert trial.attrs["pruned_at"] == 20 and trial.attrs["val_mean"] == pytest.approx(0.3)  # best stays at 10
    silent = _FakeTrial(prune=True)
    PruningCallback(silent, report=False).on_validation_end(_FakeTrainer(), 10, _result([0.5, 0.5]))
    assert silent.reports == [] and silent.attrs["val_mean"] == 0.5


@pytest.mark.parametrize("name", PRUNERS)
def test_every_pruner_name_builds(name):
    assert isinstance(make_pruner(name, iterations=100, val_every=10), optuna.pruners.BasePruner)


def test_unknown_pruner_is_a_config_error():
    with pytest.raises(ConfigError, match="nope"):
        make_pruner("nope", iterations=100, val_every=10)
