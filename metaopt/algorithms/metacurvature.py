"""Meta-Curvature (Park & Oliva 2019): a learned curvature preconditions each inner gradient.

For a parameter with modes (out, in, kernel) the gradient G becomes G x_1 M_out x_2 M_in x_3 M_k,
one square matrix per mode, each initialised to the identity (so training starts as MAML).
Kernel spatial dimensions are merged into one mode, as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GBMLConfig, GradientMetaLearner
from metaopt.inner_loop import GradTransform
from metaopt.typing import TaskKind

__all__ = ["MetaCurvature", "curvature_transform"]


def _modes(shape: torch.Size) -> tuple[int, ...]:
    if len(shape) > 2:
        return (shape[0], shape[1], int(torch.tensor(shape[2:]).prod()))
    return tuple(shape)


def curvature_transform(grad: torch.Tensor, matrices: Sequence[torch.Tensor]) -> torch.Tensor:
    """Multiply ``grad`` (viewed by ``_modes``) by one matrix along each mode (the functional twin)."""
    g = grad.reshape(_modes(grad.shape))
    for mode, matrix in enumerate(matrices):
        g = torch.movedim(torch.tensordot(matrix, g, dims=([1], [mode])), 0, mode)
    return g.reshape(grad.shape)


@register
class MetaCurvature(GradientMetaLearner):
    """Meta-Curvature (Park & Oliva 2019): learned per-mode curvature on inner gradients."""

    name = "metacurvature"

    def __init__(self, model: nn.Module, config: GBMLConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        self.curvature = nn.ModuleList()
        for p in self.inner.params:
            mats = nn.ParameterList(nn.Parameter(torch.eye(n)) for n in _modes(p.shape))
            self.curvature.append(mats)

    def inner_inputs(self) -> list[torch.Tensor]:
        return list(self.curvature.parameters())

    def grad_transform(self) -> GradTransform:
        def transform(grads: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
            return [
                None if g is None else curvature_transform(g, list(mats))
                for g, mats in zip(grads, self.curvature)
            ]

        return transform
