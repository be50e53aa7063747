"""Differentiable SGD, momentum and Adam as pure functions over explicit tensors.

Each optimiser is an ``(init, update)`` pair, as in optax: ``init(params)`` gives the state,
``update(params, grads, state, lr, **overrides)`` gives the new parameters and state without touching
any module, so the update batches under ``torch.func.vmap`` and its graph reaches every input
(learnable rates, momentum, weight decay). The arithmetic follows ``higher``'s differentiable
optimisers term for term (``higher.optim.DifferentiableSGD`` / ``DifferentiableAdam``), so the two
engines agree to rounding: momentum's first buffer is the gradient itself, and Adam's second moment
passes no gradient where it is exactly zero (``higher`` masks it with a hook; here a ``where``,
which also works under ``vmap``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["FunctionalOptimizer"]

Value = float | torch.Tensor


def _is_zero(value: Value) -> bool:
    return isinstance(value, (int, float)) and value == 0


@dataclass(frozen=True)
class FunctionalOptimizer:
    """One of ``sgd``, ``momentum`` (heavy ball, no dampening) or ``adam``, as a pure update."""

    kind: str
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def init(self, params: Sequence[torch.Tensor]) -> dict[str, list]:
        if self.kind == "adam":
            return {"step": 0, "exp_avg": [None] * len(params), "exp_avg_sq": [None] * len(params)}
        return {"buf": [None] * len(params)}

    def update(
        self,
        params: Sequence[torch.Tensor],
        grads: Sequence[torch.Tensor | None],
        state: dict[str, list],
        lr: Sequence[Value],
        *,
        momentum: Sequence[Value] | None = None,
        weight_decay: Sequence[Value] | None = None,
    ) -> tuple[list[torch.Tensor], dict[str, list]]:
        """New parameters and state after one step; a ``None`` gradient leaves its tensor as it is."""
        if weight_decay is not None:  # L2 on the gradient, as torch.optim and higher apply it
            grads = [g if g is None or _is_zero(wd) else g + wd * p for p, g, wd in zip(params, grads, weight_decay)]
        if self.kind == "adam":
            return self._adam(params, grads, state, lr)
        return self._sgd(params, grads, state, lr, momentum)

    def _sgd(self, params, grads, state, lr, momentum):
        bufs = list(state["buf"])
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:
                out.append(p)
                continue
            mom = (self.momentum if self.kind == "momentum" else 0.0) if momentum is None else momentum[i]
            if not _is_zero(mom):
                bufs[i] = g if bufs[i] is None else bufs[i].mul(mom) + 1 * g
                g = bufs[i]
            out.append(p + (-lr[i]) * g)
        return out, {"buf": bufs}

    def _adam(self, params, grads, state, lr):
        beta1, beta2 = self.betas
        step = state["step"] + 1
        avgs, sqs = list(state["exp_avg"]), list(state["exp_avg_sq"])
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:
                out.append(p)
                continue
            avg = torch.zeros_like(p) if avgs[i] is None else avgs[i]
            sq = torch.zeros_like(p) if sqs[i] is None else sqs[i]
            avg = avg * beta1 + (1 - beta1) * g
            sq = sq * beta2 + (1 - beta2) * g * g
            # Where the second moment is exactly 0 its square root has no derivative: pass none back
            # through it, on this step or any later one that reads the state (higher's mask does the same).
            zero = sq == 0.0
            sq = torch.where(zero, torch.zeros_like(sq), sq)
            root = torch.where(zero, torch.zeros_like(sq), torch.where(zero, torch.ones_like(sq), sq).sqrt())
            denom = root + self.eps
            step_size = lr[i] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
            out.append(p + (-step_size) * (avg / denom))
            avgs[i], sqs[i] = avg, sq
        return out, {"step": step, "exp_avg": avgs, "exp_avg_sq": sqs}

