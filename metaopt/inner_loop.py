"""The single door every gradient-based adaptation in metaopt goes through.

Algorithms describe *what* to adapt (a module, or a subset of its parameters), the per-step learning
rates (floats, or tensors that should receive meta-gradients), an optional gradient transform or
learned update rule, and call ``InnerLoop.adapt``; they never know which engine runs it. Two engines
stand behind the door (``metaopt.engines``):

- ``higher``: the reference, ``higher``'s patched module and differentiable optimisers, task by task;
  the only place that imports ``higher``;
- ``batched``: pure ``torch.func`` inner loops, ``vmap``-ed over the tasks of a meta-batch
  (``map_tasks``), equal to the reference gradient for gradient.

``auto`` is the batched engine. Hypergradient sessions (``start``) run on ``higher``.

With ``checkpoint`` on, second-order adaptations are recomputed step by step in the backward pass
instead of keeping every step's activations (``metaopt.engines.checkpointed``), task by task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from metaopt.engines import Engine, get_engine
from metaopt.engines.base import AdaptResult, GradTransform, LearningRates, LossFn, Overrides, UpdateRule
from metaopt.engines.functional_optim import FunctionalOptimizer
from metaopt.errors import ConfigError
from metaopt.typing import InnerOptimizer

if TYPE_CHECKING:
    from metaopt.engines.higher_engine import InnerSession

__all__ = [
    "InnerLoop", "InnerSession", "AdaptResult", "INNER_OPTIMIZERS", "LearningRates", "Overrides", "UpdateRule",
    "GradTransform", "LossFn",
]

INNER_OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")


class InnerLoop:
    """Adapts ``module`` (or its ``params`` subset) with a differentiable optimiser.

    Args:
        module: the module whose parameters are adapted; its own parameters are the initial
            weights, so gradients of a post-adaptation loss reach them (MAML's meta-gradient).
        optimizer: ``"sgd"``, ``"momentum"`` (SGD with momentum) or ``"adam"``.
        betas: Adam's (beta1, beta2); Nichol et al.'s Reptile uses beta1 = 0.
        params: the subset of ``module``'s parameters to adapt (default: all); the others are
            used as they are and still receive meta-gradients.
        engine: ``"higher"`` or ``"batched"`` (``"auto"``: batched); switch later with ``use``.
        checkpoint: recompute each inner step in the backward pass rather than keep its activations
            (second-order adaptation only; memory then grows with steps x parameters, not activations).
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        optimizer: InnerOptimizer = "sgd",
        momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        params: Sequence[nn.Parameter] | None = None,
        engine: str = "higher",
        checkpoint: bool = False,
    ) -> None:
        if optimizer not in INNER_OPTIMIZERS:
            raise ConfigError(f"unknown inner optimizer {optimizer!r}; choose from {', '.join(INNER_OPTIMIZERS)}")
        self.module = module
        self.optimizer = optimizer
        self.momentum = momentum
        self.betas = betas
        self.params = list(module.parameters()) if params is None else list(params)
        named = list(module.named_parameters())
        self.names = [name for name, _ in named]
        index = {id(p): i for i, (_, p) in enumerate(named)}
        self.positions = [index[id(p)] for p in self.params]
        self.functional_optimizer = FunctionalOptimizer(optimizer, momentum, betas)
        self.engine: Engine = get_engine(engine)
        self.checkpoint = checkpoint

    def use(self, engine: str) -> None:
        """Run later adaptations on ``engine`` (``higher``, ``batched`` or ``auto``)."""
        self.engine = get_engine(engine)

    @property
    def num_tensors(self) -> int:
        return len(self.params)

    def adapt(
        self,
        loss_fn: LossFn,
        steps: int,
        lr: float | LearningRates,
        *,
        first_order: bool = False,
        differentiable: bool = True,
        grad_transform: GradTransform | None = None,
        after_step: Callable[[Any, int], None] | None = None,
        overrides: Overrides | None = None,
        update_rule: UpdateRule | None = None,
        inputs: Sequence[torch.Tensor] = (),
    ) -> AdaptResult:
        """Run ``steps`` inner steps of ``loss_fn(fmodule, step)`` and return the adapted module.

        ``differentiable=False`` adapts without building a graph (evaluation, Reptile).
        ``first_order=True`` keeps the path from the initial weights (and learnable rates) to the
        adapted weights but drops second-order terms, as FOMAML does.
        ``after_step(fmodule, step)`` is called after each step (MAML++'s multi-step loss).
        ``overrides(step)`` gives further settings (``momentum``, ``weight_decay``; floats or tensors
        that should receive meta-gradients), one value for all tensors or one per adapted tensor.
        ``update_rule(params, grads, loss, step)`` replaces the optimiser (``lr`` and ``overrides``
        are then unused); first-order sessions hand it constant gradients and loss.
        ``inputs``: with ``checkpoint`` on, every other tensor that ``loss_fn`` or ``grad_transform`` reads
        and that needs a meta-gradient (features computed outside the loop, a transform's matrices): a
        recomputed step differentiates with respect to its inputs only, and refuses to run when its
        graph reaches an undeclared one. The module's tensors, rates and overrides need no declaring.
        """
        schedule = lr if callable(lr) else (lambda _step: lr)
        if self.checkpoint and differentiable and not first_order and torch.is_grad_enabled():
            if update_rule is not None:
                raise ConfigError("inner checkpointing cannot recompute a learned update rule: it keeps state "
                                  "from step to step")
            if self.engine.name == "higher":  # the recomputed steps are the batched engine's, not higher's
                raise ConfigError("inner checkpointing runs on the batched engine; use('batched') or turn it off")
            from metaopt.engines.checkpointed import checkpointed_adapt

            return checkpointed_adapt(self, loss_fn, steps, schedule, grad_transform=grad_transform,
                                      after_step=after_step, overrides=overrides, inputs=inputs)
        return self.engine.adapt(
            self, loss_fn, steps, schedule, first_order=first_order, differentiable=differentiable,
            grad_transform=grad_transform, after_step=after_step, overrides=overrides, update_rule=update_rule,
        )

    def map_tasks(self, fn: Callable[[Any], Any], tasks: Sequence[Any], *, differentiable: bool = True) -> Any:
        """``fn`` on every task, outputs stacked; the batched engine runs them at once under ``vmap``.
        With ``checkpoint`` on, a ``differentiable`` ``fn`` (one that builds a meta-graph) runs task by task:
        a checkpointed step has no ``vmap`` rule. Evaluation and Reptile pass ``differentiable=False``."""
        if self.checkpoint and differentiable:
            return Engine.map_tasks(self.engine, fn, tasks)
        return self.engine.map_tasks(fn, tasks)

    def start(
        self, *, differentiable: bool = True, first_order: bool = False, grad_transform: GradTransform | None = None
    ) -> InnerSession:
        """Begin an open-ended differentiable optimisation of the module on ``higher``.

        Hyperparameter learning uses this directly: many steps, truncated every K steps.
        """
        from metaopt.engines.higher_engine import HigherEngine

        return HigherEngine().start(self, differentiable=differentiable, first_order=first_order,
                                    grad_transform=grad_transform)

    def per_tensor(
        self, value: float | torch.Tensor | Sequence[float | torch.Tensor], what: str = "inner learning rates"
    ) -> list[float | torch.Tensor]:
        """One value per adapted tensor, from one value for all or a list of them."""
        if isinstance(value, (float, int)) or (isinstance(value, torch.Tensor) and value.dim() == 0):
            return [value] * self.num_tensors
        rates = list(value)
        if len(rates) != self.num_tensors:
            raise ConfigError(f"got {len(rates)} {what} for {self.num_tensors} adapted tensors")
        return rates


def __getattr__(name: str) -> Any:
    if name == "InnerSession":  # lazily: the door alone must not load the reference engine
        from metaopt.engines.higher_engine import InnerSession

        return InnerSession
    raise AttributeError(name)
