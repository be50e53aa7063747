"""The single door to ``higher``: every gradient-based adaptation in metaopt runs through here.

Nothing else in metaopt imports ``higher``. Algorithms describe *what* to adapt (a module), the
per-step learning rates (floats, or tensors that should receive meta-gradients) and an optional
gradient transform; this module turns that into ``higher``'s patched module and differentiable
optimiser. Learnable inner hyperparameters reach ``higher`` through ``override=``, one parameter
group per adapted tensor, so a rate may be a scalar per layer (LSLR) or a tensor shaped like its
parameter (Meta-SGD). A faster batched engine can later stand behind the same ``adapt`` call.
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

__all__ = ["InnerLoop", "AdaptResult", "INNER_OPTIMIZERS", "LearningRates"]

INNER_OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")

# Per step: one float for every tensor, or one value (float or tensor) per adapted tensor.
LearningRates = Callable[[int], "float | Sequence[float | torch.Tensor]"]
LossFn = Callable[[nn.Module, int], torch.Tensor]
GradTransform = Callable[[Sequence[torch.Tensor | None]], list[torch.Tensor | None]]


@dataclass
class AdaptResult:
    """The adapted functional module and the support loss before each inner step."""

    module: nn.Module
    support_losses: list[float]


class InnerLoop:
    """Adapts ``module`` (or its ``params`` subset) with a differentiable optimiser from ``higher``.

    Args:
        module: the module whose parameters are adapted; its own parameters are the initial
            weights, so gradients of a post-adaptation loss reach them (MAML's meta-gradient).
        optimizer: ``"sgd"``, ``"momentum"`` (SGD with momentum) or ``"adam"``.
        params: the subset of ``module``'s parameters to adapt (default: all); the others are
            used as they are and still receive meta-gradients.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        optimizer: InnerOptimizer = "sgd",
        momentum: float = 0.9,
        params: Sequence[nn.Parameter] | None = None,
    ) -> None:
        if optimizer not in INNER_OPTIMIZERS:
            raise ConfigError(f"unknown inner optimizer {optimizer!r}; choose from {', '.join(INNER_OPTIMIZERS)}")
        self.module = module
        self.params = list(module.parameters()) if params is None else list(params)
        groups = [{"params": [p]} for p in self.params]
        if optimizer == "adam":
            self._opt: torch.optim.Optimizer = torch.optim.Adam(groups, lr=1.0)
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
    ) -> AdaptResult:
        """Run ``steps`` inner steps of ``loss_fn(fmodule, step)`` and return the adapted module.

        ``differentiable=False`` adapts without building a graph (evaluation, Reptile).
        ``first_order=True`` keeps the path from the initial weights (and learnable rates) to the
        adapted weights but drops second-order terms, as FOMAML does.
        ``after_step(fmodule, step)`` is called after each step (MAML++'s multi-step loss).
        """
        fmodule = higher.patch.monkeypatch(
            self.module, copy_initial_weights=False, track_higher_grads=differentiable
        )
        diffopt = higher.optim.get_diff_optim(
            self._opt, self.module.parameters(), fmodel=fmodule, track_higher_grads=differentiable
        )
        schedule = lr if callable(lr) else (lambda _step: lr)
        callback = grad_transform
        if first_order and differentiable:
            callback = _detached(grad_transform)
        losses: list[float] = []
        for step in range(steps):
            loss = loss_fn(fmodule, step)
            losses.append(float(loss.detach()))
            diffopt.step(loss, override={"lr": self._rates(schedule(step))}, grad_callback=callback)
            if after_step is not None:
                after_step(fmodule, step)
        return AdaptResult(fmodule, losses)

    def _rates(self, value: float | Sequence[float | torch.Tensor]) -> list[float | torch.Tensor]:
        if isinstance(value, (float, int)) or (isinstance(value, torch.Tensor) and value.dim() == 0):
            return [value] * self.num_tensors
        rates = list(value)
        if len(rates) != self.num_tensors:
            raise ConfigError(f"got {len(rates)} inner learning rates for {self.num_tensors} adapted tensors")
        return rates


def _detached(inner: GradTransform | None) -> GradTransform:
    def transform(grads: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
        out = [None if g is None else g.detach() for g in grads]
        return inner(out) if inner is not None else out

    return transform
