"""The reference engine: ``higher``'s patched module and differentiable optimisers, one task at a time.

This is the only module in metaopt that imports ``higher``. Learnable inner hyperparameters reach it
through ``override=``, one parameter group per adapted tensor, so a rate may be a scalar per layer
(LSLR) or a tensor shaped like its parameter (Meta-SGD). A learned update rule (the meta-LSTM) is
written into the patched module's fast weights. It is slow (``higher`` rebuilds its optimiser for
every task), exact, and the oracle the batched engine is tested against.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

with warnings.catch_warnings():
    # higher 0.2.1 uses ``len(v) is 1`` and deprecated torch calls; these warnings are not ours to fix.
    warnings.simplefilter("ignore")
    import higher
    import higher.optim
    import higher.patch

from metaopt.engines.base import AdaptResult, Engine, GradTransform, LearningRates, LossFn, Overrides, UpdateRule
from metaopt.errors import ConfigError

if TYPE_CHECKING:
    from metaopt.inner_loop import InnerLoop

__all__ = ["HigherEngine", "InnerSession"]


class HigherEngine(Engine):
    name = "higher"

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
        session = self.start(loop, differentiable=differentiable, first_order=first_order,
                             grad_transform=grad_transform)
        losses: list[torch.Tensor] = []
        for step in range(steps):
            loss = loss_fn(session.module, step)
            losses.append(loss.detach())
            if update_rule is not None:
                session.rule_step(loss, update_rule, step)
            else:
                session.step(loss, rates(step), None if overrides is None else overrides(step))
            if after_step is not None:
                after_step(session.module, step)
        return AdaptResult(session.module, losses)

    def start(
        self, loop: InnerLoop, *, differentiable: bool = True, first_order: bool = False,
        grad_transform: GradTransform | None = None,
    ) -> InnerSession:
        fmodule = higher.patch.monkeypatch(loop.module, copy_initial_weights=False, track_higher_grads=differentiable)
        diffopt = higher.optim.get_diff_optim(
            _torch_optimizer(loop), loop.module.parameters(), fmodel=fmodule, track_higher_grads=differentiable
        )
        callback = grad_transform
        if first_order and differentiable:
            callback = _detached(grad_transform)
        return InnerSession(loop, fmodule, diffopt, callback, detach_inputs=first_order or not differentiable)


def _torch_optimizer(loop: InnerLoop) -> torch.optim.Optimizer:
    """The torch optimiser ``higher`` copies its settings from: one parameter group per adapted tensor."""
    cached = loop.__dict__.get("_higher_optimizer")
    if cached is None:
        groups = [{"params": [p]} for p in loop.params]
        if loop.optimizer == "adam":
            cached = torch.optim.Adam(groups, lr=1.0, betas=loop.betas)
        else:
            cached = torch.optim.SGD(groups, lr=1.0, momentum=loop.momentum if loop.optimizer == "momentum" else 0.0)
        loop.__dict__["_higher_optimizer"] = cached
    return cached


class InnerSession:
    """A differentiable optimisation in progress: step it, read ``module``, ``truncate`` it.

    Truncation detaches the current weights and optimiser state (momentum buffers), so gradients of
    later losses flow back only to the hyperparameters used since, not through the whole history
    (truncated backpropagation through training, as in Shaban et al. 2019).
    """

    def __init__(
        self, loop: InnerLoop, fmodule: nn.Module, diffopt, grad_callback: GradTransform | None, *,
        detach_inputs: bool = False,
    ) -> None:
        self.loop = loop
        self._detach_inputs = detach_inputs
        self.module = fmodule
        self._diffopt = diffopt
        self._callback = grad_callback

    @property
    def params(self) -> list[torch.Tensor]:
        return list(self.module.fast_params)

    def step(
        self,
        loss: torch.Tensor,
        lr: float | torch.Tensor | Sequence[float | torch.Tensor],
        overrides: dict[str, float | torch.Tensor | Sequence[float | torch.Tensor]] | None = None,
    ) -> None:
        """One optimiser step on ``loss`` with rate(s) ``lr`` and any further overridden settings."""
        override = {"lr": self.loop.per_tensor(lr)}
        for key, value in (overrides or {}).items():
            override[key] = self.loop.per_tensor(value, key)
        self._diffopt.step(loss, override=override, grad_callback=self._callback)

    def rule_step(self, loss: torch.Tensor, rule: UpdateRule, step: int) -> None:
        """One step of a learned update rule: the adapted tensors become ``rule(params, grads, loss, step)``.

        First-order (or non-differentiable) sessions hand the rule detached gradients and loss, so
        no second-order term flows through its inputs (Ravi & Larochelle 2017 drop it the same way);
        the path from the initial weights and the rule's own parameters to the new weights is kept.
        """
        fast = self.params
        positions = self.loop.positions
        current = [fast[i] for i in positions]
        grads = list(torch.autograd.grad(loss, current, create_graph=not self._detach_inputs, allow_unused=True))
        if self._detach_inputs:
            loss = loss.detach()
        if self._callback is not None:
            grads = self._callback(grads)  # the grad transform, detaching when first-order
        new = rule(current, grads, loss, step)
        if len(new) != len(current):
            raise ConfigError(f"update rule returned {len(new)} tensors for {len(current)} adapted tensors")
        if not self.module.track_higher_grads:
            # As higher's own optimisers do when not tracking: each step starts from detached tensors.
            new = [p.detach().requires_grad_() for p in new]
        for i, p in zip(positions, new):
            fast[i] = p
        self.module.update_params(fast)

    def truncate(self) -> None:
        """Cut the graph here: later hypergradients see only the steps taken after this call."""
        fresh = [p.detach().requires_grad_() for p in self.module.fast_params]
        # higher keeps every past weight list while tracking; drop them so memory stays flat.
        self.module._fast_params = None
        self.module.update_params(fresh)
        for group_state in self._diffopt.state:
            for param_state in group_state.values():
                for key, value in list(param_state.items()):
                    if isinstance(value, torch.Tensor):
                        param_state[key] = value.detach()


def _detached(inner: GradTransform | None) -> GradTransform:
    def transform(grads: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
        out = [None if g is None else g.detach() for g in grads]
        return inner(out) if inner is not None else out

    return transform
