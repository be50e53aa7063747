"""Episodic evaluation: mean and 95% confidence interval over many fixed test tasks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

from metaopt.algorithms.base import MetaLearner
from metaopt.errors import ConfigError
from metaopt.stats import format_ci, mean_ci95
from metaopt.tasks.base import Task, to_device

__all__ = [
    "EvalResult", "mean_ci95", "metric_name", "evaluate_tasks", "eval_result", "expected_calibration_error",
    "evaluate_calibration",
    "ndcg_at_k",
]


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
        text = f"{self.metric} {format_ci(self.mean, self.ci95, scale=scale, unit=unit)} ({self.n_tasks} tasks)"
        if self.diverged:
            text += f"; adaptation diverged on {self.diverged} tasks"
        return text


# Tasks scored at once by a learner on the batched engine: wide enough to fill the machine, small
# enough that 20-way Conv4 query sets stay a few hundred MB.
EVAL_CHUNK = 32


def metric_name(kind: str) -> str:
    """The score a task kind is reported in: accuracy (higher is better), mse or regret (lower is better)."""
    return {"classification": "accuracy", "rl": "regret"}.get(kind, "mse")


def evaluate_tasks(
    learner: MetaLearner, tasks: Sequence[Task], *, steps: int | None = None, progress: bool = False, desc: str = "eval"
) -> EvalResult:
    """Adapt to each task's support set and score its query set.

    Learners that can (``score_tasks`` on the batched engine) score ``EVAL_CHUNK`` tasks at a time.
    """
    tasks = list(tasks)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), desc=desc, leave=False)
    was_training = learner.training
    learner.eval()
    device = getattr(learner, "device", None)  # duck-typed learners keep their tasks where they are
    score_tasks = getattr(learner, "score_tasks", None)
    chunk = EVAL_CHUNK if score_tasks is not None else 1
    scores: list[float] = []
    try:
        for start in range(0, len(tasks), chunk):
            part = [to_device(task, device) for task in tasks[start:start + chunk]]
            scores += score_tasks(part, steps) if score_tasks is not None else [learner.score(part[0], steps)]
            if bar is not None:
                bar.update(len(part))
    finally:
        learner.train(was_training)
        if bar is not None:
            bar.close()
    return eval_result(learner.kind, scores)


def eval_result(kind: str, scores: Sequence[float]) -> EvalResult:
    """The summary of per-task ``scores`` of tasks of ``kind`` (also for scores gathered from several processes)."""
    scores = list(scores)
    mean, ci = mean_ci95(scores)
    diverged = sum(not math.isfinite(s) for s in scores)
    return EvalResult(metric_name(kind), mean, ci, len(scores), scores, diverged)


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """ECE (Guo et al. 2017): the confidence-weighted gap between confidence and accuracy over
    ``bins`` equal-width confidence bins; ``probs`` ``[N, C]`` are predicted class probabilities."""
    confidence, predicted = probs.max(-1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.float().mean() * (confidence[in_bin].mean() - correct[in_bin].mean()).abs()
    return float(ece)


def evaluate_calibration(
    learner: MetaLearner, tasks: Sequence[Task], *, steps: int | None = None, bins: int = 15, progress: bool = False
) -> dict[str, float]:
    """Accuracy and ECE of a classifier over the query sets of ``tasks`` pooled together.

    A learner's ``predict`` returns logits or log-probabilities; their softmax is its predictive
    distribution (for ABML, the average over posterior samples)."""
    if learner.kind != "classification":
        raise ConfigError(f"calibration needs a classification learner, not {learner.kind}")
    iterator = tasks
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(tasks, desc="calibration", leave=False)
    was_training = learner.training
    learner.eval()
    probs, labels = [], []
    device = getattr(learner, "device", None)
    try:
        for task in iterator:
            probs.append(learner.predict(to_device(task, device), steps).softmax(-1).cpu())
            labels.append(task.query_y.cpu())
    finally:
        learner.train(was_training)
    p, y = torch.cat(probs), torch.cat(labels)
    accuracy = float((p.argmax(-1) == y).float().mean())
    return {"accuracy": accuracy, "ece": expected_calibration_error(p, y, bins), "n_tasks": len(tasks)}


def ndcg_at_k(scores: torch.Tensor, relevance: torch.Tensor, k: int = 10) -> float:
    """NDCG@k (Järvelin & Kekäläinen 2002) with gains ``2^rel - 1`` and log2 discounts: the
    ranking by ``scores`` against the ideal ranking by ``relevance`` (1.0 is ideal)."""
    scores, relevance = scores.flatten(), relevance.flatten().float()
    k = min(k, len(scores))
    discounts = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float32))
    gains = 2.0**relevance - 1
    dcg = (gains[scores.argsort(descending=True, stable=True)[:k]] * discounts).sum()
    ideal = (gains.sort(descending=True).values[:k] * discounts).sum()
    return float(dcg / ideal) if ideal > 0 else 0.0
