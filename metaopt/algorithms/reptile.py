"""Reptile (Nichol et al. 2018): move the initialisation towards the task-adapted weights.

Each task is trained on its support and query examples together for ``inner_steps`` steps (no
meta-graph); the outer update is ``theta += eps * mean(phi - theta)``, applied through plain SGD
whose learning rate is ``eps`` (default 1.0), linearly annealed to 0 as in the paper.
Evaluation adapts on the support set only, like every other learner.
"""

from __future__ import annotations

import dataclasses

import torch

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GBMLConfig, GradientMetaLearner
from metaopt.tasks.base import Task

__all__ = ["Reptile", "ReptileConfig", "reptile_direction"]


@dataclasses.dataclass
class ReptileConfig(GBMLConfig):
    inner_lr: float = 0.02
    inner_steps: int = 5
    first_order: bool = True


def reptile_direction(initial: list[torch.Tensor], adapted: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The Reptile pseudo-gradient ``theta - mean(phi)``: descending it moves theta toward the phis."""
    return [p - torch.stack(phis).mean(0) for p, phis in zip(initial, zip(*adapted))]


@register
class Reptile(GradientMetaLearner):
    """Reptile (Nichol et al. 2018): move the initialisation towards task-adapted weights."""

    name = "reptile"
    Config = ReptileConfig
    outer_optimizer = "sgd"
    default_outer_lr = 1.0

    def outer_lr_scale(self, iteration: int) -> float:
        return max(0.0, 1.0 - iteration / self.total_iterations)

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        # Reptile has no differentiable meta-loss; report the query loss after adaptation.
        with torch.no_grad():
            return self.loss(self.predict(task, self.config.inner_steps), task.query_y)

    def meta_step(self, tasks: list[Task], optimizer: torch.optim.Optimizer, iteration: int) -> dict[str, float]:
        params = list(self.model.parameters())

        def adapted_weights(task: Task) -> list[torch.Tensor]:
            x = torch.cat([task.support_x, task.query_x])
            y = torch.cat([task.support_y, task.query_y])
            result = self.adapt(x, y, self.config.inner_steps, differentiable=False)
            return [*(p.detach() for p in result.module.parameters()), result.loss_tensors[-1]]

        # Where the batched engine batches, the tasks adapt at once; each output is stacked over the tasks.
        *stacked, losses = self.map_tasks(adapted_weights, tasks, differentiable=False)
        adapted = [list(weights) for weights in zip(*(s.unbind(0) for s in stacked))]
        optimizer.zero_grad(set_to_none=True)
        for p, direction in zip(params, reptile_direction([p.detach() for p in params], adapted)):
            p.grad = direction
        optimizer.step()
        return {"meta_loss": float(losses.mean())}
