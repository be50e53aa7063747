"""MAML (Finn et al. 2017) and first-order MAML: the plain configuration of the GBML core."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GBMLConfig, GradientMetaLearner
from metaopt.errors import ConfigError

__all__ = ["MAML", "FOMAML", "FOMAMLConfig", "maml_update"]


def maml_update(
    params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None], lr: float | Sequence[float | torch.Tensor]
) -> list[torch.Tensor]:
    """One plain SGD inner step, ``p - lr * g``, as a pure function (the functional twin of MAML).

    ``lr`` is one rate for all tensors, or one rate (float or tensor shaped like its parameter)
    per tensor. A ``None`` gradient leaves its parameter unchanged.
    """
    rates = [lr] * len(params) if isinstance(lr, (int, float)) else list(lr)
    return [p if g is None else p - r * g for p, g, r in zip(params, grads, rates)]


@register
class MAML(GradientMetaLearner):
    """MAML (Finn et al. 2017), second order: the meta-gradient flows through every inner step."""

    name = "maml"


@dataclasses.dataclass
class FOMAMLConfig(GBMLConfig):
    first_order: bool = True

    def validate(self) -> None:
        super().validate()
        if not self.first_order:
            raise ConfigError("fomaml is first-order by definition; use 'maml' for second-order gradients")


@register
class FOMAML(GradientMetaLearner):
    """First-order MAML (FOMAML): inner gradients are constants in the meta-gradient."""

    name = "fomaml"
    Config = FOMAMLConfig
