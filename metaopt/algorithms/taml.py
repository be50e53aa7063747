"""TAML (Jamal & Qi 2019): MAML with a regulariser that keeps the initial model task-agnostic.

- ``entropy`` (classification): add ``weight * (H(adapted) - H(initial))`` of the query
  predictions, i.e. maximise the entropy of the unadapted model (no class preferred before it has
  seen the task) while reducing it after adaptation;
- ``theil`` (any task kind, the paper's inequality-minimisation variant): add ``weight`` times the
  Theil index of the initial model's losses across the meta-batch, so no task is favoured.

``regulariser="auto"`` picks entropy for classification and Theil for regression.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GBMLConfig, GradientMetaLearner
from metaopt.errors import ConfigError
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["TAML", "TAMLConfig", "theil_index", "mean_entropy"]


@dataclasses.dataclass
class TAMLConfig(GBMLConfig):
    regulariser: str = "auto"
    weight: float = 0.1

    def validate(self) -> None:
        super().validate()
        if self.regulariser not in ("auto", "entropy", "theil"):
            raise ConfigError(f"unknown regulariser {self.regulariser!r}; choose from auto, entropy, theil")
        if self.weight < 0:
            raise ConfigError(f"weight must be non-negative, got {self.weight}")


def mean_entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = logits.log_softmax(-1)
    return -(logp.exp() * logp).sum(-1).mean()


def theil_index(losses: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Theil index of positive values: 0 when all are equal, larger when unequal."""
    ratio = losses / (losses.mean() + eps)
    return (ratio * torch.log(ratio + eps)).mean()


@register
class TAML(GradientMetaLearner):
    """TAML (Jamal & Qi 2019): MAML with an entropy or Theil-index task-agnostic regulariser."""

    name = "taml"
    Config = TAMLConfig
    config: TAMLConfig

    def __init__(self, model: nn.Module, config: TAMLConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        mode = config.regulariser
        if mode == "auto":
            mode = "entropy" if kind == "classification" else "theil"
        if mode == "entropy" and kind != "classification":
            raise ConfigError("taml's entropy regulariser needs classification tasks; use regulariser=theil")
        self.mode = mode

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        steps = self.config.inner_steps
        result = self.adapt(
            task.support_x, task.support_y, steps, differentiable=True, first_order=self.first_order_at(iteration)
        )
        adapted = result.module(task.query_x)
        loss = self.loss(adapted, task.query_y)
        if self.mode == "entropy":
            loss = loss + self.config.weight * (mean_entropy(adapted) - mean_entropy(self.model(task.query_x)))
        return loss

    def meta_step(self, tasks: list[Task], optimizer: torch.optim.Optimizer, iteration: int) -> dict[str, float]:
        if self.mode != "theil":
            return super().meta_step(tasks, optimizer, iteration)
        # The Theil index couples the tasks of a batch, so the batch is one graph here.
        optimizer.zero_grad(set_to_none=True)
        adapted = self.map_tasks(lambda t: self.meta_loss(t, iteration), tasks)
        initial = self.map_tasks(lambda t: self.loss(self.model(t.query_x), t.query_y), tasks)
        total = adapted.mean() + self.config.weight * theil_index(initial)
        total.backward()
        optimizer.step()
        return {"meta_loss": float(adapted.mean().detach())}
