"""Relation Networks (Sung et al. 2018): a learned module scores each (class, query) pair.

The encoder is Conv4 with max-pooling after the first two blocks only (the paper's embedding
module), so it keeps a feature map. For K > 1 shots a class's map is the sum of its support maps.
Each class map is concatenated with each query map along channels and scored by the relation
module: two conv blocks (3x3 conv, BatchNorm, ReLU, 2x2 max-pool), a ReLU layer of ``hidden``
units and a sigmoid unit. Training regresses the scores onto the one-hot labels with mean
squared error, as in the paper.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms.base import LearnerConfig, register
from metaopt.algorithms.metric import MetricLearner, class_sums, episode_ways
from metaopt.errors import ConfigError
from metaopt.models import ConvBlock
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["RelationNet", "RelationConfig", "RelationModule"]


@dataclasses.dataclass
class RelationConfig(LearnerConfig):
    hidden: int = 8

    def validate(self) -> None:
        if self.hidden < 1:
            raise ConfigError(f"hidden must be a positive integer, got {self.hidden}")


class RelationModule(nn.Module):
    """Scores ``[pairs, 2C, H, W]`` concatenated maps in [0, 1]."""

    def __init__(self, channels: int, side: int, hidden: int = 8) -> None:
        super().__init__()
        self.blocks = nn.Sequential(ConvBlock(2 * channels, channels), ConvBlock(channels, channels))
        out_side = side // 4
        if out_side < 1:
            raise ConfigError(f"relation needs feature maps of at least 4x4, got {side}x{side}; use larger images")
        self.fc = nn.Sequential(nn.Linear(channels * out_side * out_side, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc(self.blocks(pairs).flatten(1))).squeeze(-1)


@register
class RelationNet(MetricLearner):
    """Relation Networks (Sung et al. 2018): a learned relation module over embedding pairs."""

    name = "relation"
    Config = RelationConfig
    config: RelationConfig

    @classmethod
    def model_options(cls, config: LearnerConfig) -> dict[str, Any]:
        return {"head": False, "pool_blocks": 2}

    def __init__(self, model: nn.Module, config: RelationConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        shape = getattr(model, "feature_shape", None)
        if shape is None:
            raise ConfigError("relation needs an image encoder with a 'feature_shape' (Conv4); vector inputs have none")
        self.map_shape: tuple[int, int, int] = tuple(shape)  # type: ignore[assignment]
        channels, side, _ = self.map_shape
        self.relation = RelationModule(channels, side, config.hidden)

    def episode_scores(self, task: Task) -> torch.Tensor:
        support, query = self.embed_episode(task)
        n_way, n_query = episode_ways(task), query.shape[0]
        classes = class_sums(support.view(-1, *self.map_shape), task.support_y, n_way)
        query = query.view(-1, *self.map_shape)
        pairs = torch.cat(
            [classes.unsqueeze(0).expand(n_query, -1, -1, -1, -1), query.unsqueeze(1).expand(-1, n_way, -1, -1, -1)],
            dim=2,
        )
        return self.relation(pairs.flatten(0, 1)).view(n_query, n_way)

    def loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(prediction, F.one_hot(target, prediction.shape[-1]).to(prediction.dtype))
