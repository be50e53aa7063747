"""Meta-SGD (Li et al. 2017): MAML with a learned learning rate per parameter element.

The rates are tensors shaped like their parameters, handed to ``higher`` through ``override=``,
so the outer optimiser learns them along with the initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GBMLConfig, GradientMetaLearner
from metaopt.typing import TaskKind

__all__ = ["MetaSGD"]


@register
class MetaSGD(GradientMetaLearner):
    """Meta-SGD (Li et al. 2017): learned per-element inner learning rates."""

    name = "metasgd"

    def __init__(self, model: nn.Module, config: GBMLConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        self.rates = nn.ParameterList(
            nn.Parameter(torch.full_like(p, config.inner_lr)) for p in self.inner.params
        )

    def inner_rates(self, step: int) -> Sequence[torch.Tensor]:
        return list(self.rates)
