"""Pruning: the trainer callback that reports validation to Optuna, the pruners, and our per-task
Wilcoxon pruner.

Why our own Wilcoxon pruner rather than ``optuna.pruners.WilcoxonPruner``: Optuna's expects each
trial to report one value per *instance* (``trial.report(score, step=task_id)``), each instance
once, and compares them with the best trial's. A meta-training trial scores the same fixed
validation tasks again at every validation, and its scores change as it learns; Optuna keeps only
the first report of a step, and the step axis must stay the meta-iteration so the median,
successive-halving and Hyperband pruners (and MLflow's curves) work. So each validation stores its
per-task scores in the trial's user attrs (``val_scores_by_step``) and :class:`TaskWilcoxonPruner`
runs a one-sided paired Wilcoxon signed-rank test, task by task, against the best completed trial's
scores *at the same iteration*: "is this trial significantly worse than the best one was at this
point of its training?". Pairing by task removes the task-difficulty variance that makes a mean
over 100 episodes noisy, which is what makes the test fit episodic evaluation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from metaopt.callbacks import Callback
from metaopt.errors import ConfigError

if TYPE_CHECKING:
    from metaopt.evaluation import EvalResult
    from metaopt.trainer import MetaTrainer

__all__ = ["PRUNERS", "make_pruner", "TaskWilcoxonPruner", "PruningCallback", "scores_at"]

PRUNERS: tuple[str, ...] = ("median", "hyperband", "sha", "wilcoxon", "none")


def scores_at(trial: FrozenTrial, step: int) -> list[float] | None:
    """``trial``'s per-task validation scores at ``step``, else at its last validation before it."""
    by_step: dict[str, list[float]] = trial.user_attrs.get("val_scores_by_step") or {}
    earlier = [int(s) for s in by_step if int(s) <= step]
    return by_step[str(max(earlier))] if earlier else None


class TaskWilcoxonPruner(BasePruner):
    """Prune when a one-sided paired Wilcoxon test on per-task validation scores says the trial is
    worse than the best completed trial at the same iteration (p < ``p_threshold``)."""

    def __init__(self, *, p_threshold: float = 0.1, n_startup_trials: int = 5, n_warmup_steps: int = 0,
                 min_tasks: int = 10) -> None:
        if not 0 < p_threshold < 1:
            raise ConfigError(f"p_threshold must be in (0, 1), got {p_threshold}")
        self.p_threshold = p_threshold
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.min_tasks = min_tasks

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < self.n_startup_trials:
            return False
        current = scores_at(trial, step)
        reference = scores_at(study.best_trial, step)
        if current is None or reference is None or len(current) != len(reference):
            return False
        return self.p_value(current, reference, study.direction) < self.p_threshold

    def p_value(self, current: list[float], reference: list[float], direction: StudyDirection) -> float:
        """p of "current is worse than reference", paired by task; 1.0 when there is nothing to test."""
        from scipy.stats import wilcoxon

        diffs = [c - r for c, r in zip(current, reference) if math.isfinite(c) and math.isfinite(r)]
        if len(diffs) < self.min_tasks or not any(diffs):
            return 1.0
        worse = "less" if direction == StudyDirection.MAXIMIZE else "greater"
        return float(wilcoxon(diffs, alternative=worse, zero_method="zsplit").pvalue)


def make_pruner(name: str, *, iterations: int, val_every: int) -> BasePruner:
    """One of :data:`PRUNERS`, sized to a trial budget of ``iterations`` validated every ``val_every``.

    Pruning starts after the first fifth of the budget (earlier validations mostly measure noise)
    and after 5 completed trials (median, Wilcoxon); successive halving and Hyperband start their
    rungs at the first validation and keep a third of the trials at each rung.
    """
    warmup = max(1, iterations // 5)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if name == "wilcoxon":
        return TaskWilcoxonPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=val_every, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=val_every, max_resource=iterations, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}; choose from {', '.join(PRUNERS)}")


class PruningCallback(Callback):
    """Reports each validation to ``trial`` and raises ``optuna.TrialPruned`` when the pruner says so.

    Per validation it stores the per-task scores (``val_scores_by_step``) and, whenever validation
    improves, ``val_mean``/``val_ci95``/``val_scores`` of that best validation (the model a trial
    reports). ``report=False`` (multi-objective studies, where Optuna cannot prune) only records.
    """

    def __init__(self, trial: Any, *, report: bool = True) -> None:
        self.trial = trial
        self.report = report
        self._by_step: dict[str, list[float]] = {}

    def on_validation_end(self, trainer: MetaTrainer, iteration: int, result: EvalResult) -> None:
        scores = [float(s) for s in result.per_task]
        self._by_step[str(iteration)] = scores
        self.trial.set_user_attr("val_scores_by_step", self._by_step)
        self.trial.set_user_attr("iterations_run", iteration)
        if trainer.state.best_iteration == iteration:
            self.trial.set_user_attr("val_mean", result.mean)
            self.trial.set_user_attr("val_ci95", result.ci95)
            self.trial.set_user_attr("val_scores", scores)
        if not self.report:
            return
        self.trial.report(result.mean, step=iteration)
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned_at", iteration)
            raise optuna.TrialPruned(f"pruned at iteration {iteration}")
