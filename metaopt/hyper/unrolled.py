"""Unrolled hypergradients (Maclaurin et al. 2015 style), truncated to K steps.

Training runs through ``metaopt.inner_loop`` with the learning rate, weight decay and momentum
handed to ``higher`` as tensors; every K steps the validation loss is differentiated through those
K steps to the hyperparameters, a hyperoptimiser (Adam on the log-parametrised values) steps them,
and the graph is truncated. Memory grows with K, not with the length of training.

Short horizons are greedy: they favour whatever lowers the validation loss within K steps (Wu et
al. 2018, "short-horizon bias"), typically a smaller learning rate than a long run wants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from metaopt.errors import ConfigError
from metaopt.hyper._bounds import Bounds, HyperParameter, HyperParameters
from metaopt.inner_loop import InnerLoop

__all__ = ["UnrolledConfig", "UnrolledTuner", "training_hypers", "unrolled_validation_loss"]

TrainLoss = Callable[[nn.Module, int], torch.Tensor]
ValLoss = Callable[[nn.Module, int], torch.Tensor]
Trajectory = list[dict[str, float]]


@dataclass
class UnrolledConfig:
    """Initial values, bounds and which of (lr, weight_decay, momentum) are learned."""

    lr: float = 0.05
    lr_bounds: Bounds = (1e-4, 2.0)
    weight_decay: float = 1e-4
    weight_decay_bounds: Bounds = (1e-7, 1.0)
    momentum: float = 0.5
    momentum_bounds: Bounds = (0.0, 0.99)
    learn: tuple[str, ...] = ("lr", "weight_decay", "momentum")
    horizon: int = 10
    hyper_lr: float = 0.05

    def validate(self) -> None:
        unknown = set(self.learn) - {"lr", "weight_decay", "momentum"}
        if unknown:
            raise ConfigError(f"cannot learn {', '.join(sorted(unknown))}; choose from lr, weight_decay, momentum")
        if self.horizon < 1:
            raise ConfigError(f"horizon must be at least 1, got {self.horizon}")
        if not self.hyper_lr > 0:
            raise ConfigError(f"hyper_lr must be positive, got {self.hyper_lr}")


def training_hypers(config: UnrolledConfig, dtype: torch.dtype = torch.float32) -> tuple[HyperParameters, dict]:
    """The learned hyperparameters (bounds checked) and the fixed ones, from ``config``."""
    config.validate()
    learned, fixed = HyperParameters(), {}
    for name in ("lr", "weight_decay", "momentum"):
        value, bounds = getattr(config, name), getattr(config, f"{name}_bounds")
        if name in config.learn:
            learned[name] = HyperParameter(name, value, bounds, name, dtype=dtype)
        else:
            _check_fixed(name, value)
            fixed[name] = value
    return learned, fixed


def _check_fixed(name: str, value: float) -> None:
    ok = value > 0 if name == "lr" else (value >= 0 if name == "weight_decay" else 0 <= value < 1)
    if not ok:
        raise ConfigError(f"{name} {value} is invalid ({'positive' if name == 'lr' else 'non-negative'}"
                          f"{', below 1' if name == 'momentum' else ''} expected)")


def _settings(learned: HyperParameters, fixed: dict) -> dict[str, torch.Tensor | float]:
    return {**fixed, **learned.tensors()}


def unrolled_validation_loss(model: nn.Module, learned: HyperParameters, fixed: dict, train_loss: TrainLoss,
                             val_loss: ValLoss, steps: int, *, start: int = 0) -> torch.Tensor:
    """Validation loss after ``steps`` differentiable training steps from ``model``'s weights.

    The result is differentiable with respect to ``learned`` (and the model's initial weights).
    """
    session = InnerLoop(model, optimizer="momentum").start()
    for step in range(start, start + steps):
        hp = _settings(learned, fixed)
        session.step(train_loss(session.module, step), hp["lr"],
                     {"momentum": hp["momentum"], "weight_decay": hp["weight_decay"]})
    return val_loss(session.module, start + steps)


class UnrolledTuner:
    """Learns hyperparameters online during one training run of ``model``.

    ``train_loss(module, step)`` is the loss of training step ``step`` (its minibatch);
    ``val_loss(module, step)`` the validation objective after it. ``run`` leaves the trained
    weights in ``model`` and returns the trajectory (one row per hypergradient step).
    """

    def __init__(self, model: nn.Module, config: UnrolledConfig, train_loss: TrainLoss, val_loss: ValLoss) -> None:
        dtype = next(model.parameters()).dtype
        self.learned, self.fixed = training_hypers(config, dtype)
        self.config = config
        self.model = model
        self.train_loss = train_loss
        self.val_loss = val_loss
        params = list(self.learned.raw_parameters())
        self.optimizer = torch.optim.Adam(params, lr=config.hyper_lr) if params else None

    def hyperparameters(self) -> dict[str, float]:
        return {**{k: float(v) for k, v in self.fixed.items()}, **self.learned.scalars()}

    def run(self, steps: int, *, progress: bool = False,
            callback: Callable[[dict[str, float]], None] | None = None) -> Trajectory:
        """Train for ``steps`` steps, updating the hyperparameters every ``horizon`` steps."""
        session = InnerLoop(self.model, optimizer="momentum").start()
        session.truncate()  # the run's initial weights are data here, not meta-parameters
        trajectory: Trajectory = []
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="unrolled hypergradients", disable=not progress)
        done = 0
        while done < steps:
            k = min(self.config.horizon, steps - done)
            losses = []
            for step in range(done, done + k):
                hp = _settings(self.learned, self.fixed)
                loss = self.train_loss(session.module, step)
                losses.append(float(loss.detach()))
                session.step(loss, hp["lr"], {"momentum": hp["momentum"], "weight_decay": hp["weight_decay"]})
            done += k
            objective = self.val_loss(session.module, done)
            if self.optimizer is not None:
                self.optimizer.zero_grad(set_to_none=True)
                objective.backward()
                self.optimizer.step()
                self.learned.project_()
            session.truncate()
            row = {"step": float(done), "train_loss": sum(losses) / len(losses),
                   "val_objective": float(objective.detach()), **self.hyperparameters()}
            trajectory.append(row)
            if callback is not None:
                callback(row)
            bar.update(k)
        bar.close()
        with torch.no_grad():
            for p, fast in zip(self.model.parameters(), session.params):
                p.copy_(fast)
        return trajectory
