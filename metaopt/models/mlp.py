"""The sinusoid regression network of Finn et al. 2017: 1-40-40-1 with ReLU."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """A ReLU MLP split into ``features`` and a linear ``head`` (ANIL adapts only the head)."""

    def __init__(
        self, in_features: int = 1, hidden: tuple[int, ...] = (40, 40), out_features: int = 1, *, head: bool = True
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.features = nn.Sequential(*layers)
        self.feature_dim = width
        self.head = nn.Linear(width, out_features) if head else nn.Identity()

    def forward(self, x: torch.Tensor, step: int = 0) -> torch.Tensor:
        # ``step`` is accepted so every model shares one call signature with per-step BatchNorm models.
        return self.head(self.features(x))
