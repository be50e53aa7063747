"""Episodic evaluation: mean and 95% confidence interval over many fixed test tasks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from metaopt.algorithms.base import MetaLearner
from metaopt.tasks.base import Task

__all__ = ["EvalResult", "mean_ci95", "evaluate_tasks"]


@dataclass
class EvalResult:
    """Per-task scores and their summary. ``metric`` is ``accuracy`` (higher is better), ``mse`` or ``regret``."""

    metric: str
    mean: float
    ci95: float
    n_tasks: int
    per_task: list[float] = field(repr=False, default_factory=list)
    diverged: int = 0  # tasks whose score is NaN or infinite (the mean is then NaN too)

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "accuracy"

    def better_than(self, other: float | None) -> bool:
        if other is None:
            return True
        return self.mean > other if self.higher_is_better else self.mean < other

    def to_dict(self, with_tasks: bool = False) -> dict:
        out = asdict(self)
        if not with_tasks:
            out.pop("per_task")
        return out

    def __str__(self) -> str:
        scale, unit = (100.0, "%") if self.higher_is_better else (1.0, "")
        text = f"{self.metric} {self.mean * scale:.2f}{unit} ± {self.ci95 * scale:.2f}{unit} ({self.n_tasks} tasks)"
        if self.diverged:
            text += f"; adaptation diverged on {self.diverged} tasks"
        return text


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width 1.96 * s / sqrt(n) used by the few-shot literature."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, 1.96 * math.sqrt(var / n)


def evaluate_tasks(
    learner: MetaLearner, tasks: Sequence[Task], *, steps: int | None = None, progress: bool = False, desc: str = "eval"
) -> EvalResult:
    """Adapt to each task's support set and score its query set."""
    iterator = tasks
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(tasks, desc=desc, leave=False)
    was_training = learner.training
    learner.eval()
    try:
        scores = [learner.score(task, steps) for task in iterator]
    finally:
        learner.train(was_training)
    mean, ci = mean_ci95(scores)
    metric = {"classification": "accuracy", "rl": "regret"}.get(learner.kind, "mse")
    diverged = sum(not math.isfinite(s) for s in scores)
    return EvalResult(metric, mean, ci, len(scores), scores, diverged)
