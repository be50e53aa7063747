"""Siamese Networks (Koch et al. 2015): learn same/different verification, classify by nearest support.

Twin embeddings (the shared headless backbone) are compared by a weighted L1 distance:
``logit(x1, x2) = sum_j alpha_j |f(x1)_j - f(x2)_j| + b``, and ``sigmoid(logit)`` is the
probability that the two images show the same class. Meta-training takes every (query, support)
pair of an episode and minimises binary cross-entropy, weighting the positive pairs so both
labels count equally (an N-way episode has N - 1 different pairs per same pair; Koch et al.
sample balanced pairs). At test time each query gets the class of its most similar support
example: the class score is the highest pair logit among that class's supports.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms.base import LearnerConfig, register
from metaopt.algorithms.metric import MetricLearner, embedding_dim, episode_ways
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["SiameseNet", "nearest_support_scores"]


def nearest_support_scores(pair_logits: torch.Tensor, support_y: torch.Tensor, n_way: int) -> torch.Tensor:
    """``[n_query, n_way]``: for each class, the best ``[n_query, n_support]`` pair logit among its supports."""
    in_class = F.one_hot(support_y, n_way).T.bool()  # [n_way, n_support]
    return pair_logits.unsqueeze(1).masked_fill(~in_class, float("-inf")).amax(-1)


@register
class SiameseNet(MetricLearner):
    """Siamese Networks (Koch et al. 2015): weighted-L1 verification, nearest-support classification."""

    name = "siamese"

    def __init__(self, model: nn.Module, config: LearnerConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        self.distance = nn.Linear(embedding_dim(model, self.name), 1)

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``[len(a), len(b)]`` same-class logits from the weighted L1 distance of every pair."""
        return self.distance((a.unsqueeze(1) - b.unsqueeze(0)).abs()).squeeze(-1)

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        support, query = self.embed_episode(task)
        logits = self.pair_logits(query, support)
        same = (task.query_y.unsqueeze(1) == task.support_y.unsqueeze(0)).to(logits.dtype)
        positives = same.sum()
        balance = (same.numel() - positives) / positives.clamp_min(1)
        return F.binary_cross_entropy_with_logits(logits, same, pos_weight=balance)

    def episode_scores(self, task: Task) -> torch.Tensor:
        support, query = self.embed_episode(task)
        return nearest_support_scores(self.pair_logits(query, support), task.support_y, episode_ways(task))
