"""Hypergradient descent on the learning rate (Baydin et al. 2018): HD-SGD and HD-Adam.

If the last update was θ ← θ − α d, then ∂f(θ)/∂α = −∇f(θ)·d, so the learning rate itself takes a
gradient step from the dot product of the new gradient with the previous update direction:

    additive        α ← α + β ∇f·d
    multiplicative  α ← α (1 + β cos(∇f, d))      (scale-free; Baydin et al.'s "multiplicative rule")

One learning rate per parameter group, kept in ``group["hd_lr"]`` and clipped into ``lr_bounds``
(lower bound > 0). ``group["lr"]`` stays the *scheduled* rate: the effective step is
``hd_lr * lr / initial_lr``, so the optimiser composes with the trainer's LR schedules (MAML++'s
cosine annealing) and with ``torch.optim.lr_scheduler``. Everything lives in the optimiser's
``state_dict``, so checkpoints resume exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from metaopt.errors import ConfigError
from metaopt.hyper._bounds import Bounds, check_bounds

__all__ = ["HDSGD", "HDAdam", "hd_optimizer", "current_lrs"]

_RULES = ("multiplicative", "additive")


class _HypergradientOptimizer(torch.optim.Optimizer):
    def __init__(self, params: Iterable, defaults: dict) -> None:
        check_bounds("lr", defaults["lr"], defaults["lr_bounds"], "lr")
        if defaults["rule"] not in _RULES:
            raise ConfigError(f"unknown hypergradient rule {defaults['rule']!r}; choose from {', '.join(_RULES)}")
        if not defaults["hyper_lr"] >= 0:
            raise ConfigError(f"hyper_lr must be non-negative, got {defaults['hyper_lr']}")
        if not defaults["weight_decay"] >= 0:
            raise ConfigError(f"weight_decay must be non-negative, got {defaults['weight_decay']}")
        super().__init__(params, defaults)
        for group in self.param_groups:
            group.setdefault("hd_lr", group["lr"])
            group.setdefault("initial_lr_hd", group["lr"])

    def _direction(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad + group["weight_decay"] * p if group["weight_decay"] else p.grad for p in params]
            self._update_lr(group, params, grads)
            scale = group["lr"] / group["initial_lr_hd"]
            for p, g in zip(params, grads):
                d = self._direction(p, g, group)
                self.state[p]["hd_direction"] = d
                p.add_(d, alpha=-group["hd_lr"] * scale)
        return loss

    def _update_lr(self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        previous = [self.state[p].get("hd_direction") for p in params]
        if not params or any(d is None for d in previous):
            return  # first step: no previous update to compare with
        dot = sum(float((g * d).sum()) for g, d in zip(grads, previous))
        if group["rule"] == "additive":
            lr = group["hd_lr"] + group["hyper_lr"] * dot
        else:
            norm = (sum(float(g.pow(2).sum()) for g in grads) * sum(float(d.pow(2).sum()) for d in previous)) ** 0.5
            lr = group["hd_lr"] * (1 + group["hyper_lr"] * (dot / norm if norm > 0 else 0.0))
        low, high = group["lr_bounds"]
        group["hd_lr"] = min(max(lr, low), high)


class HDSGD(_HypergradientOptimizer):
    """SGD (optionally with momentum) whose learning rate is learned by hypergradient descent.

    ``hyper_lr`` is β: with ``rule="multiplicative"`` the relative change of the rate per step
    at most (cosine of successive directions is in [-1, 1]); with ``"additive"`` an absolute step.
    """

    def __init__(self, params: Iterable, lr: float = 0.01, *, hyper_lr: float = 0.02, momentum: float = 0.0,
                 weight_decay: float = 0.0, lr_bounds: Bounds = (1e-6, 10.0), rule: str = "multiplicative") -> None:
        if not 0 <= momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, dict(lr=lr, hyper_lr=hyper_lr, momentum=momentum, weight_decay=weight_decay,
                                      lr_bounds=tuple(lr_bounds), rule=rule))

    def _direction(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> torch.Tensor:
        if not group["momentum"]:
            return g.clone()
        state = self.state[p]
        buf = state.get("momentum_buffer")
        buf = g.clone() if buf is None else buf.mul_(group["momentum"]).add_(g)
        state["momentum_buffer"] = buf
        return buf.clone()


class HDAdam(_HypergradientOptimizer):
    """Adam whose learning rate is learned by hypergradient descent (Baydin et al.'s Adam-HD)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, *, hyper_lr: float = 0.02,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 lr_bounds: Bounds = (1e-7, 1.0), rule: str = "multiplicative") -> None:
        if not all(0 <= b < 1 for b in betas):
            raise ConfigError(f"betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, hyper_lr=hyper_lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, lr_bounds=tuple(lr_bounds), rule=rule))

    def _direction(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> torch.Tensor:
        state = self.state[p]
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        state["exp_avg"].mul_(beta1).add_(g, alpha=1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        m_hat = state["exp_avg"] / (1 - beta1 ** state["step"])
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** state["step"])
        return m_hat / (v_hat.sqrt() + group["eps"])


def hd_optimizer(name: str, params: Iterable, lr: float, **kwargs) -> _HypergradientOptimizer:
    """``"sgd"`` → HDSGD, ``"adam"`` → HDAdam (for the trainer's ``optimizer_factory``)."""
    if name == "sgd":
        return HDSGD(params, lr, **kwargs)
    if name == "adam":
        return HDAdam(params, lr, **kwargs)
    raise ConfigError(f"unknown hypergradient optimizer {name!r}; choose from sgd, adam")


def current_lrs(optimizer: torch.optim.Optimizer) -> list[float]:
    """The learning rate each group steps with now (the learned one for HD optimisers)."""
    return [g.get("hd_lr", g["lr"]) * g["lr"] / g.get("initial_lr_hd", g["lr"]) for g in optimizer.param_groups]
