"""MAML++ (Antoniou et al. 2019, "How to train your MAML").

On top of MAML:
- multi-step loss (MSL): the query loss after *every* inner step, weighted; the weights anneal
  from uniform towards the last step over the first ``msl_fraction`` of training;
- learned per-layer per-step learning rates (LSLR), passed to ``higher`` through ``override=``;
  they are applied clamped at 0, since a negative rate turns an inner step into gradient ascent
  (on sinusoids, rates starting at 0.01 under Adam's 1e-3 steps went negative and collapsed the
  model);
- per-step BatchNorm weights and biases (BNWB): the model gets one affine row per step; they are
  meta-learned, not adapted. Statistics are the batch's at every step (see ``models.conv4``),
  so the paper's per-step running statistics have nothing to store;
- derivative-order annealing (DA): first-order for the first ``first_order_fraction`` of training;
- cosine annealing of the outer learning rate (CA) down to ``min_lr_ratio`` of its start.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GBMLConfig, GradientMetaLearner
from metaopt.errors import ConfigError
from metaopt.models.conv4 import StepBatchNorm2d
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["MAMLPlusPlus", "MAMLPPConfig", "msl_weights"]


@dataclasses.dataclass
class MAMLPPConfig(GBMLConfig):
    inner_lr: float = 0.1
    inner_steps: int = 5
    msl_fraction: float = 0.15
    first_order_fraction: float = 0.5
    min_lr_ratio: float = 0.01

    def validate(self) -> None:
        super().validate()
        for name in ("msl_fraction", "first_order_fraction", "min_lr_ratio"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")


def msl_weights(steps: int, progress: float) -> torch.Tensor:
    """Per-step query-loss weights after ``progress`` (0..1) of the annealing period.

    Non-final weights decay linearly from 1/steps to 0.03/steps; the final weight takes the rest,
    following the schedule of the MAML++ reference code.
    """
    if steps == 1:
        return torch.ones(1)
    progress = min(max(progress, 0.0), 1.0)
    low = 0.03 / steps
    other = 1.0 / steps - progress * (1.0 / steps - low)
    weights = torch.full((steps,), other)
    weights[-1] = 1.0 - other * (steps - 1)
    return weights


@register
class MAMLPlusPlus(GradientMetaLearner):
    """MAML++ (Antoniou et al. 2019): MSL, LSLR, per-step BatchNorm, DA and cosine outer LR."""

    name = "mamlpp"
    Config = MAMLPPConfig
    config: MAMLPPConfig

    def __init__(self, model: nn.Module, config: MAMLPPConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        self.lslr = nn.ParameterList(
            nn.Parameter(torch.full((config.inner_steps,), config.inner_lr)) for _ in self.inner.params
        )

    @classmethod
    def model_options(cls, config: Any) -> dict[str, Any]:
        return {"norm_steps": config.inner_steps + 1}

    def adapted_params(self) -> Sequence[nn.Parameter]:
        norm = {id(p) for m in self.model.modules() if isinstance(m, StepBatchNorm2d) for p in m.parameters()}
        return [p for p in self.model.parameters() if id(p) not in norm]

    def forward_adapted(self, fmodule: nn.Module, x: torch.Tensor, step: int) -> torch.Tensor:
        return fmodule(x, step=step)

    def inner_rates(self, step: int) -> Sequence[torch.Tensor]:
        # Evaluation may take more steps than were trained; those reuse the last learned rate.
        step = min(step, self.config.inner_steps - 1)
        # A negative rate would turn the inner step into gradient ascent; keep them at or above 0.
        return [rates[step].clamp(min=0.0) for rates in self.lslr]

    def first_order_at(self, iteration: int) -> bool:
        if self.config.first_order:
            return True
        return iteration < self.config.first_order_fraction * self.total_iterations

    def outer_lr_scale(self, iteration: int) -> float:
        low = self.config.min_lr_ratio
        return low + 0.5 * (1 - low) * (1 + math.cos(math.pi * min(iteration / self.total_iterations, 1.0)))

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        steps = self.config.inner_steps
        period = self.config.msl_fraction * self.total_iterations
        weights = msl_weights(steps, iteration / period if period > 0 else 1.0)
        losses: list[torch.Tensor] = []

        def after_step(fmodule: nn.Module, step: int) -> None:
            losses.append(self.loss(fmodule(task.query_x, step=step + 1), task.query_y))

        self.adapt(
            task.support_x, task.support_y, steps,
            differentiable=True, first_order=self.first_order_at(iteration), after_step=after_step,
        )
        return sum(w * l for w, l in zip(weights.tolist(), losses))  # type: ignore[return-value]
