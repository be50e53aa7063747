"""ANIL (Raghu et al. 2020): MAML that adapts only the head.

The body's features are computed once per set outside the inner loop (they do not change while
the head adapts), which is ANIL's speed-up; the body still receives meta-gradients through them.
"""

from __future__ import annotations

import torch
from torch import nn

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GradientMetaLearner
from metaopt.errors import ConfigError

__all__ = ["ANIL"]


@register
class ANIL(GradientMetaLearner):
    """ANIL (Raghu et al. 2020): MAML that adapts only the head, on features computed once."""

    name = "anil"

    def adapted_module(self) -> nn.Module:
        head = getattr(self.model, "head", None)
        if not isinstance(head, nn.Module) or not hasattr(self.model, "features"):
            raise ConfigError("anil needs a model with 'features' and 'head' submodules")
        return head

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)
