"""The gradient-based meta-learning core that MAML and its variants configure.

Variants differ in *what* is adapted (``adapted_module``/``adapted_params``), the inner learning
rates (``inner_rates``: fixed, learned per tensor, learned per step), an optional gradient
transform (Meta-Curvature), an optional embedding computed once outside the inner loop (ANIL),
and how the query loss is formed. Adaptation itself always goes through ``metaopt.inner_loop``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import nn

from metaopt.algorithms.base import LearnerConfig, MetaLearner
from metaopt.errors import ConfigError
from metaopt.inner_loop import INNER_OPTIMIZERS, AdaptResult, GradTransform, InnerLoop
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["GBMLConfig", "GradientMetaLearner"]


@dataclasses.dataclass
class GBMLConfig(LearnerConfig):
    inner_lr: float = 0.01
    inner_steps: int = 1
    eval_inner_steps: int | None = None
    first_order: bool = False
    inner_optimizer: str = "sgd"
    momentum: float = 0.9
    adam_beta1: float = 0.9  # inner Adam's beta1 (Reptile's paper runs 0)

    def validate(self) -> None:
        if not self.inner_lr > 0:
            raise ConfigError(f"inner_lr must be positive, got {self.inner_lr}")
        if self.inner_steps < 1:
            raise ConfigError(f"inner_steps must be at least 1, got {self.inner_steps}")
        if self.eval_inner_steps is not None and self.eval_inner_steps < 1:
            raise ConfigError(f"eval_inner_steps must be at least 1, got {self.eval_inner_steps}")
        if self.inner_optimizer not in INNER_OPTIMIZERS:
            raise ConfigError(
                f"unknown inner_optimizer {self.inner_optimizer!r}; choose from {', '.join(INNER_OPTIMIZERS)}"
            )
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0 <= self.adam_beta1 < 1:
            raise ConfigError(f"adam_beta1 must be in [0, 1), got {self.adam_beta1}")


class GradientMetaLearner(MetaLearner):
    """MAML's loop: adapt on the support set through ``higher``, take the loss on the query set."""

    Config = GBMLConfig
    has_inner_loop = True
    config: GBMLConfig

    def __init__(self, model: nn.Module, config: GBMLConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        self.inner = InnerLoop(
            self.adapted_module(),
            optimizer=config.inner_optimizer,  # type: ignore[arg-type]
            momentum=config.momentum,
            betas=(config.adam_beta1, 0.999),
            params=self.adapted_params(),
        )

    # -- hooks the variants override -------------------------------------------------------
    def adapted_module(self) -> nn.Module:
        return self.model

    def adapted_params(self) -> Sequence[nn.Parameter] | None:
        return None

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_adapted(self, fmodule: nn.Module, x: torch.Tensor, step: int) -> torch.Tensor:
        return fmodule(x)

    def inner_rates(self, step: int) -> float | Sequence[float | torch.Tensor]:
        return self.config.inner_lr

    def grad_transform(self) -> GradTransform | None:
        return None

    def first_order_at(self, iteration: int) -> bool:
        return self.config.first_order

    def inner_inputs(self) -> list[torch.Tensor]:
        """Meta-parameters the inner step reads besides the adapted module, rates and overrides
        (a gradient transform's own); a checkpointed step must take them as inputs to pass them gradients."""
        return []

    # -- the loop ---------------------------------------------------------------------------
    def adapt(
        self, support_x: torch.Tensor, support_y: torch.Tensor, steps: int, *, differentiable: bool,
        first_order: bool = False, after_step=None,
    ) -> AdaptResult:
        """Adapt to a support set; ``support_x`` is already embedded.

        Learned inner hyperparameters attached as ``self.inner_hypers`` (``metaopt.hyper.inner``)
        take over the rates and add their momentum / weight decay overrides.
        """
        hypers = getattr(self, "inner_hypers", None)  # a submodule, so not a class-level default
        return self.inner.adapt(
            lambda f, s: self.loss(self.forward_adapted(f, support_x, s), support_y),
            steps,
            self.inner_rates if hypers is None else hypers.rates,
            first_order=first_order,
            differentiable=differentiable,
            grad_transform=self.grad_transform(),
            after_step=after_step,
            overrides=None if hypers is None else hypers.overrides,
            inputs=[support_x, *self.inner_inputs()],  # ANIL's features carry the body's gradient
        )

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        steps = self.config.inner_steps
        result = self.adapt(
            self.embed(task.support_x), task.support_y, steps,
            differentiable=True, first_order=self.first_order_at(iteration),
        )
        return self.loss(self.forward_adapted(result.module, self.embed(task.query_x), steps), task.query_y)

    def eval_steps(self, steps: int | None) -> int:
        if steps is not None:  # 0 is a valid request: the meta-learned start, unadapted
            return steps
        return self.config.eval_inner_steps or self.config.inner_steps

    def predict(self, task: Task, steps: int | None = None) -> torch.Tensor:
        steps = self.eval_steps(steps)
        with torch.no_grad():
            support, query = self.embed(task.support_x), self.embed(task.query_x)
        with torch.enable_grad():
            result = self.adapt(support, task.support_y, steps, differentiable=False)
        with torch.no_grad():
            return self.forward_adapted(result.module, query, steps)
