"""What the metric-based learners share: a headless embedding, one forward per episode, no inner loop.

ProtoNets, Matching, Relation and Siamese Networks classify a query by comparing its embedding
with the support set's, so "adaptation" is a forward pass. Support and query are embedded in one
batch, as the ProtoNets reference code does: with the backbone's batch-statistics BatchNorm each
episode is normalised by its own images, the same way in meta-training and at test time.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn

from metaopt.algorithms.base import LearnerConfig, MetaLearner
from metaopt.errors import ConfigError
from metaopt.tasks.base import Task

__all__ = ["MetricLearner", "episode_ways", "class_sums", "class_means", "embedding_dim"]


def episode_ways(task: Task) -> int:
    """N of an N-way episode (labels are ``0..N-1``)."""
    return task.n_way if task.n_way is not None else int(task.support_y.max()) + 1


def embedding_dim(model: nn.Module, learner: str) -> int:
    """Width of a headless model's output, for learners that build layers on top of it."""
    dim = getattr(model, "feature_dim", None)
    if not isinstance(dim, int):
        raise ConfigError(f"{learner} needs a model with a 'feature_dim' attribute (Conv4 or MLP)")
    return dim


def class_sums(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """``[n_way, *feature]``: the sum of each class's embeddings (Relation Networks pool K shots so)."""
    # In place on a fresh zeros tensor: the out-of-place index_add would copy it first (one more kernel).
    return embeddings.new_zeros((n_way, *embeddings.shape[1:])).index_add_(0, labels, embeddings)


def class_means(embeddings: torch.Tensor, labels: torch.Tensor, n_way: int, shots: int | None = None) -> torch.Tensor:
    """``[n_way, *feature]``: each class's mean embedding (ProtoNets' prototypes). With ``shots``
    (support in ``n_way`` label-ordered blocks, see ``Task.shots``) a reshape and one mean, which
    on a GPU is several kernel launches fewer than the scatter that any order needs."""
    if shots is not None and embeddings.shape[0] == n_way * shots:
        return embeddings.view(n_way, shots, *embeddings.shape[1:]).mean(1)
    # index_add, not bincount: bincount on a GPU reads the labels' maximum back to the host (a sync).
    counts = embeddings.new_zeros(n_way).index_add_(0, labels, embeddings.new_ones(labels.shape[0]))
    return class_sums(embeddings, labels, n_way) / counts.view(-1, *([1] * (embeddings.dim() - 1)))


class MetricLearner(MetaLearner):
    """Base of the metric learners: ``episode_scores`` maps a task to per-query class scores.

    The meta-loss is ``loss(scores, query_y)`` on the query set and ``predict`` is the same
    forward without a graph; ``steps`` is ignored (there is no inner loop to run).
    """

    kinds: ClassVar[frozenset[str]] = frozenset({"classification"})

    @classmethod
    def model_options(cls, config: LearnerConfig) -> dict[str, Any]:
        return {"head": False}

    def embed_episode(self, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
        """Support and query embeddings from one forward over both sets."""
        n_support = task.support_x.shape[0]
        embedded = self.model(torch.cat([task.support_x, task.query_x]))
        return embedded[:n_support], embedded[n_support:]

    @abstractmethod
    def episode_scores(self, task: Task) -> torch.Tensor:
        """``[n_query, n_way]`` scores whose argmax is the predicted class (differentiable)."""

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        return self.loss(self.episode_scores(task), task.query_y)

    def predict(self, task: Task, steps: int | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.episode_scores(task)
