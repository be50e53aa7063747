"""What an engine behind the inner-loop door is: the types both engines share, and the interface.

An engine turns "adapt this module's tensors for ``steps`` steps of ``loss_fn``" into adapted tensors
and the support losses, and runs a function over the tasks of a meta-batch. Learners never see which
engine runs them: they call ``metaopt.inner_loop.InnerLoop``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from metaopt.inner_loop import InnerLoop
    from metaopt.tasks.base import Task

__all__ = ["AdaptResult", "Engine", "GradTransform", "LearningRates", "LossFn", "Overrides", "UpdateRule"]

# Per step: one float for every tensor, or one value (float or tensor) per adapted tensor.
LearningRates = Callable[[int], "float | Sequence[float | torch.Tensor]"]
LossFn = Callable[[nn.Module, int], torch.Tensor]
GradTransform = Callable[[Sequence[torch.Tensor | None]], list[torch.Tensor | None]]
# (adapted tensors, their gradients, support loss, step) -> the adapted tensors after the step.
UpdateRule = Callable[[list[torch.Tensor], list[torch.Tensor | None], torch.Tensor, int], list[torch.Tensor]]
# Per step: other optimiser settings to override (``momentum``, ``weight_decay``), each one value
# for every tensor or one per adapted tensor, so learned hyperparameters beyond the rate get gradients.
Overrides = Callable[[int], "dict[str, float | torch.Tensor | Sequence[float | torch.Tensor]]"]


@dataclass
class AdaptResult:
    """The adapted functional module and the support loss before each inner step."""

    module: nn.Module
    # Kept as tensors: reading a GPU scalar waits for the device, which would stall every inner step.
    loss_tensors: list[torch.Tensor]

    @property
    def support_losses(self) -> list[float]:
        return [float(loss) for loss in torch.stack(self.loss_tensors).cpu()] if self.loss_tensors else []


class Engine(ABC):
    """One way of running inner loops. ``batches``: whether ``map_tasks`` runs the tasks at once."""

    name: str
    batches: bool = False

    @abstractmethod
    def adapt(
        self,
        loop: InnerLoop,
        loss_fn: LossFn,
        steps: int,
        rates: LearningRates,
        *,
        first_order: bool,
        differentiable: bool,
        grad_transform: GradTransform | None,
        after_step: Callable[[Any, int], None] | None,
        overrides: Overrides | None,
        update_rule: UpdateRule | None,
    ) -> AdaptResult:
        """``steps`` steps of ``loss_fn(module, step)`` on ``loop``'s adapted tensors (see ``InnerLoop.adapt``)."""

    def map_tasks(self, fn: Callable[[Task], Any], tasks: Sequence[Task]) -> Any:
        """``fn`` on every task, outputs stacked along a new first dimension (tensors, or lists of them)."""
        outs = [fn(task) for task in tasks]
        if isinstance(outs[0], torch.Tensor):
            return torch.stack(outs)
        return [torch.stack(parts) for parts in zip(*outs)]
