"""Prototypical Networks (Snell et al. 2017): classify a query by its distance to class means.

Each class's prototype is the mean embedding of its support examples; a query's logits are the
negative squared Euclidean distances to the prototypes (the paper's choice, which it shows
beats cosine). ``distance="cosine"`` uses cosine similarity times ``cosine_scale`` instead, since
unscaled cosines in [-1, 1] cap the softmax's confidence.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from metaopt.algorithms.base import LearnerConfig, register
from metaopt.algorithms.metric import MetricLearner, class_means, episode_ways
from metaopt.errors import ConfigError
from metaopt.tasks.base import Task

__all__ = ["ProtoNet", "ProtoNetConfig", "prototype_logits"]

DISTANCES = ("euclidean", "cosine")


@dataclasses.dataclass
class ProtoNetConfig(LearnerConfig):
    distance: str = "euclidean"
    cosine_scale: float = 10.0

    def validate(self) -> None:
        if self.distance not in DISTANCES:
            raise ConfigError(f"unknown distance {self.distance!r}; choose from {', '.join(DISTANCES)}")
        if not self.cosine_scale > 0:
            raise ConfigError(f"cosine_scale must be positive, got {self.cosine_scale}")


def prototype_logits(
    query: torch.Tensor, prototypes: torch.Tensor, distance: str = "euclidean", cosine_scale: float = 10.0
) -> torch.Tensor:
    """``[n_query, n_way]`` logits: ``-||q - p||^2``, or ``cosine_scale * cos(q, p)``."""
    if distance == "cosine":
        return cosine_scale * F.normalize(query, dim=-1) @ F.normalize(prototypes, dim=-1).T
    return -(query.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(-1)


@register
class ProtoNet(MetricLearner):
    """Prototypical Networks (Snell et al. 2017): logits are -squared distances to class means."""

    name = "protonet"
    Config = ProtoNetConfig
    config: ProtoNetConfig

    def episode_scores(self, task: Task) -> torch.Tensor:
        support, query = self.embed_episode(task)
        prototypes = class_means(support, task.support_y, episode_ways(task), task.shots)
        return prototype_logits(query, prototypes, self.config.distance, self.config.cosine_scale)
