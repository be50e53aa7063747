"""Implicit-function-theorem hypergradients (Lorraine, Vicol & Duvenaud 2020).

At (approximately) optimal weights w*(λ) of the training loss L_T(w, λ), the hypergradient of a
validation loss L_V is

    dL_V/dλ = ∂L_V/∂λ − (∂²L_T/∂λ∂w) H⁻¹ ∂L_V/∂w,      H = ∂²L_T/∂w²,

with H⁻¹v approximated by the Neumann series α Σ_{j=0..M} (I − αH)^j v (M Hessian-vector
products). Only the current weights are needed: memory does not grow with the number of training
steps, so one weight decay per parameter tensor (or many more hyperparameters) costs little.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from metaopt.errors import ConfigError
from metaopt.hyper._bounds import Bounds, HyperParameter, HyperParameters

__all__ = ["IFTConfig", "IFTTuner", "neumann_inverse_hvp", "ift_hypergradient", "decay_penalty"]

Loss = Callable[[nn.Module, int], torch.Tensor]


@dataclass
class IFTConfig:
    """Weight decay learned by IFT (one per parameter tensor by default) while SGD trains the model."""

    weight_decay: float = 1e-4
    weight_decay_bounds: Bounds = (1e-8, 1.0)
    per_tensor: bool = True
    lr: float = 0.05
    momentum: float = 0.9
    inner_steps: int = 10  # training steps between hypergradient steps
    neumann_terms: int = 20
    neumann_alpha: float = 0.05
    hyper_lr: float = 0.05

    def validate(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        for name in ("inner_steps", "neumann_terms"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("neumann_alpha", "hyper_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")


def decay_penalty(params: Sequence[torch.Tensor], decay: torch.Tensor) -> torch.Tensor:
    """Σ_i decay_i/2 ‖w_i‖² (a scalar ``decay`` applies to every tensor); its gradient is SGD's weight decay."""
    decays = decay.expand(len(params)) if decay.dim() == 0 else decay
    return sum(d * p.pow(2).sum() for d, p in zip(decays, params)) / 2  # type: ignore[return-value]


def neumann_inverse_hvp(grad: Sequence[torch.Tensor], params: Sequence[torch.Tensor], v: Sequence[torch.Tensor],
                        terms: int, alpha: float) -> list[torch.Tensor]:
    """α Σ_{j=0..terms} (I − αH)^j v, where ``grad`` is ∂L_T/∂params built with ``create_graph=True``."""
    current = [x.detach().clone() for x in v]
    total = [x.clone() for x in current]
    for _ in range(terms):
        hvp = torch.autograd.grad(grad, params, grad_outputs=current, retain_graph=True)
        current = [c - alpha * h for c, h in zip(current, hvp)]
        total = [t + c for t, c in zip(total, current)]
    return [alpha * t for t in total]


def ift_hypergradient(train_loss: torch.Tensor, val_loss: torch.Tensor, params: Sequence[torch.Tensor],
                      hyper: Sequence[torch.Tensor], terms: int, alpha: float) -> list[torch.Tensor]:
    """dL_V/dλ at the current weights, with a ``terms``-term Neumann inverse Hessian."""
    params, hyper = list(params), list(hyper)
    v = torch.autograd.grad(val_loss, params, retain_graph=True, allow_unused=True)
    v = [torch.zeros_like(p) if g is None else g for p, g in zip(params, v)]
    direct = torch.autograd.grad(val_loss, hyper, allow_unused=True)
    grad = torch.autograd.grad(train_loss, params, create_graph=True)
    p = neumann_inverse_hvp(grad, params, v, terms, alpha)
    mixed = torch.autograd.grad(grad, hyper, grad_outputs=p, allow_unused=True)
    return [(torch.zeros_like(h) if d is None else d) - (torch.zeros_like(h) if m is None else m)
            for h, d, m in zip(hyper, direct, mixed)]


class IFTTuner:
    """Trains ``model`` with SGD on ``data_loss`` + learned weight decay; every ``inner_steps`` steps
    takes an IFT hypergradient of ``val_loss`` and steps the decays (Adam on their logarithms)."""

    def __init__(self, model: nn.Module, config: IFTConfig, data_loss: Loss, val_loss: Loss) -> None:
        config.validate()
        self.model, self.config, self.data_loss, self.val_loss = model, config, data_loss, val_loss
        self.params = [p for p in model.parameters() if p.requires_grad]
        shape = (len(self.params),) if config.per_tensor else ()
        dtype = self.params[0].dtype
        self.learned = HyperParameters({"weight_decay": HyperParameter(
            "weight_decay", config.weight_decay, config.weight_decay_bounds, "weight_decay", shape, dtype)})
        self.optimizer = torch.optim.SGD(self.params, lr=config.lr, momentum=config.momentum)
        self.hyper_optimizer = torch.optim.Adam(self.learned.raw_parameters(), lr=config.hyper_lr)

    def train_loss(self, step: int, decay: torch.Tensor) -> torch.Tensor:
        return self.data_loss(self.model, step) + decay_penalty(self.params, decay)

    def run(self, steps: int, *, progress: bool = False,
            callback: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        """Train for ``steps`` steps; returns the trajectory (one row per hypergradient step)."""
        cfg = self.config
        trajectory: list[dict[str, float]] = []
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="IFT hypergradients", disable=not progress)
        done = 0
        while done < steps:
            k = min(cfg.inner_steps, steps - done)
            losses = []
            decay = self.learned.value("weight_decay").detach()
            for step in range(done, done + k):
                self.optimizer.zero_grad(set_to_none=True)
                loss = self.train_loss(step, decay)
                loss.backward()
                self.optimizer.step()
                losses.append(float(loss.detach()))
            done += k
            decay = self.learned.value("weight_decay")
            val = self.val_loss(self.model, done)
            raw = self.learned["weight_decay"].raw
            grads = ift_hypergradient(self.train_loss(done, decay), val, self.params, [raw],
                                      cfg.neumann_terms, cfg.neumann_alpha)
            self.hyper_optimizer.zero_grad(set_to_none=True)
            raw.grad = grads[0]
            self.hyper_optimizer.step()
            self.learned.project_()
            row = {"step": float(done), "train_loss": sum(losses) / len(losses), "val_objective": float(val.detach()),
                   "lr": cfg.lr, "momentum": cfg.momentum, **self.learned.scalars()}
            trajectory.append(row)
            if callback is not None:
                callback(row)
            bar.update(k)
        bar.close()
        return trajectory
