"""The single door to ``higher``: every gradient-based adaptation in metaopt runs through here.

Nothing else in metaopt imports ``higher``. Algorithms describe *what* to adapt (a module), the
per-step learning rates (floats, or tensors that should receive meta-gradients) and an optional
gradient transform; this module turns that into ``higher``'s patched module and differentiable
optimiser. Learnable inner hyperparameters reach ``higher`` through ``override=``, one parameter
group per adapted tensor, so a rate may be a scalar per layer (LSLR) or a tensor shaped like its
parameter (Meta-SGD). A faster batched engine can later stand behind the same ``adapt`` call.

A learned update rule (Ravi & Larochelle's meta-LSTM) replaces the optimiser step through
``update_rule=``: it maps (adapted tensors, their gradients, the support loss, the step) to the new
tensors, and this module writes them into ``higher``'s patched module, so the rule's own
parameters receive meta-gradients through the unrolled updates like any learnable rate.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

with warnings.catch_warnings():
    # higher 0.2.1 uses ``len(v) is 1`` and deprecated torch calls; these warnings are not ours to fix.
    warnings.simplefilter("ignore")
    import higher
    import higher.optim
    import higher.patch

from metaopt.errors import ConfigError
from metaopt.typing import InnerOptimizer

__all__ = ["InnerLoop", "InnerSession", "AdaptResult", "INNER_OPTIMIZERS", "LearningRates", "Overrides", "UpdateRule"]

INNER_OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")

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


class InnerLoop:
    """Adapts ``module`` (or its ``params`` subset) with a differentiable optimiser from ``higher``.

    Args:
        module: the module whose parameters are adapted; its own parameters are the initial
            weights, so gradients of a post-adaptation loss reach them (MAML's meta-gradient).
        optimizer: ``"sgd"``, ``"momentum"`` (SGD with momentum) or ``"adam"``.
        betas: Adam's (beta1, beta2); Nichol et al.'s Reptile uses beta1 = 0.
        params: the subset of ``module``'s parameters to adapt (default: all); the others are
            used as they are and still receive meta-gradients.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        optimizer: InnerOptimizer = "sgd",
        momentum: float = 0.9,
        betas: tuple[float, float] = (0.9, 0.999),
        params: Sequence[nn.Parameter] | None = None,
    ) -> None:
        if optimizer not in INNER_OPTIMIZERS:
            raise ConfigError(f"unknown inner optimizer {optimizer!r}; choose from {', '.join(INNER_OPTIMIZERS)}")
        self.module = module
        self.params = list(module.parameters()) if params is None else list(params)
        groups = [{"params": [p]} for p in self.params]
        if optimizer == "adam":
            self._opt: torch.optim.Optimizer = torch.optim.Adam(groups, lr=1.0, betas=betas)
        else:
            self._opt = torch.optim.SGD(groups, lr=1.0, momentum=momentum if optimizer == "momentum" else 0.0)

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
        after_step: Callable[[nn.Module, int], None] | None = None,
        overrides: Overrides | None = None,
        update_rule: UpdateRule | None = None,
    ) -> AdaptResult:
        """Run ``steps`` inner steps of ``loss_fn(fmodule, step)`` and return the adapted module.

        ``differentiable=False`` adapts without building a graph (evaluation, Reptile).
        ``first_order=True`` keeps the path from the initial weights (and learnable rates) to the
        adapted weights but drops second-order terms, as FOMAML does.
        ``after_step(fmodule, step)`` is called after each step (MAML++'s multi-step loss).
        ``overrides(step)`` gives further settings (``momentum``, ``weight_decay``; floats or tensors
        that should receive meta-gradients), one value for all tensors or one per adapted tensor.
        ``update_rule`` replaces the optimiser (``lr`` and ``overrides`` are then unused): see
        ``InnerSession.rule_step``.
        """
        session = self.start(differentiable=differentiable, first_order=first_order, grad_transform=grad_transform)
        schedule = lr if callable(lr) else (lambda _step: lr)
        losses: list[torch.Tensor] = []
        for step in range(steps):
            loss = loss_fn(session.module, step)
            losses.append(loss.detach())
            if update_rule is not None:
                session.rule_step(loss, update_rule, step)
            else:
                session.step(loss, schedule(step), None if overrides is None else overrides(step))
            if after_step is not None:
                after_step(session.module, step)
        return AdaptResult(session.module, losses)

    def start(
        self, *, differentiable: bool = True, first_order: bool = False, grad_transform: GradTransform | None = None
    ) -> InnerSession:
        """Begin an open-ended differentiable optimisation of the module (``adapt`` runs one to the end).

        Hyperparameter learning uses this directly: many steps, truncated every K steps.
        """
        fmodule = higher.patch.monkeypatch(
            self.module, copy_initial_weights=False, track_higher_grads=differentiable
        )
        diffopt = higher.optim.get_diff_optim(
            self._opt, self.module.parameters(), fmodel=fmodule, track_higher_grads=differentiable
        )
        callback = grad_transform
        if first_order and differentiable:
            callback = _detached(grad_transform)
        return InnerSession(self, fmodule, diffopt, callback, detach_inputs=first_order or not differentiable)

    def _rates(
        self, value: float | torch.Tensor | Sequence[float | torch.Tensor], what: str = "inner learning rates"
    ) -> list[float | torch.Tensor]:
        if isinstance(value, (float, int)) or (isinstance(value, torch.Tensor) and value.dim() == 0):
            return [value] * self.num_tensors
        rates = list(value)
        if len(rates) != self.num_tensors:
            raise ConfigError(f"got {len(rates)} {what} for {self.num_tensors} adapted tensors")
        return rates


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
        override = {"lr": self.loop._rates(lr)}
        for key, value in (overrides or {}).items():
            override[key] = self.loop._rates(value, key)
        self._diffopt.step(loss, override=override, grad_callback=self._callback)

    def rule_step(self, loss: torch.Tensor, rule: UpdateRule, step: int) -> None:
        """One step of a learned update rule: the adapted tensors become ``rule(params, grads, loss, step)``.

        First-order (or non-differentiable) sessions hand the rule detached gradients and loss, so
        no second-order term flows through its inputs (Ravi & Larochelle 2017 drop it the same way);
        the path from the initial weights and the rule's own parameters to the new weights is kept.
        """
        fast = self.params
        ids = {id(p): i for i, p in enumerate(self.loop.module.parameters())}
        positions = [ids[id(p)] for p in self.loop.params]
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
