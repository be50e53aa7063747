"""Learnable hyperparameters kept inside valid ranges.

A rate or a decay is stored as its logarithm, so it is positive whatever step the hyperoptimiser
takes; momentum is stored as itself. After each hyperoptimiser step ``project_`` clips the stored
value into the user's bounds (projected gradient descent), so bounds never block the gradient
inside the range, unlike a clamp in the forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from metaopt.errors import ConfigError

__all__ = ["Bounds", "HyperParameter", "HyperParameters", "check_bounds"]

Bounds = tuple[float, float]

# What each kind of hyperparameter may be: (smallest allowed low, largest allowed high, log-scale).
_KINDS: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, math.inf, True),
    "weight_decay": (0.0, math.inf, True),
    "momentum": (0.0, 1.0, False),
}


def check_bounds(name: str, init: float, bounds: Bounds, kind: str) -> None:
    """Raise ConfigError unless ``low <= init <= high`` and the bounds suit ``kind``."""
    if kind not in _KINDS:
        raise ConfigError(f"unknown hyperparameter kind {kind!r}; choose from {', '.join(_KINDS)}")
    low, high = bounds
    floor, ceiling, log = _KINDS[kind]
    if not low <= high:
        raise ConfigError(f"{name} bounds are inconsistent: lower {low} > upper {high}")
    if log and not low > floor:
        raise ConfigError(f"{name} lower bound must be positive (it is learned on a log scale), got {low}")
    if not log and not (low >= floor and high < ceiling):
        raise ConfigError(f"{name} bounds must lie in [{floor}, {ceiling}), got [{low}, {high}]")
    if not low <= init <= high:
        raise ConfigError(f"{name} initial value {init} is outside its bounds [{low}, {high}]")


class HyperParameter(nn.Module):
    """One learnable hyperparameter (scalar or tensor of ``shape``) within ``bounds``.

    ``kind`` is ``lr`` or ``weight_decay`` (log-parametrised, always positive) or ``momentum``
    (in [0, 1)). Calling the module returns the value as a differentiable tensor.
    """

    def __init__(self, name: str, init: float, bounds: Bounds, kind: str, shape: tuple[int, ...] = (),
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        check_bounds(name, init, bounds, kind)
        self.name = name
        self.kind = kind
        self.bounds = (float(bounds[0]), float(bounds[1]))
        self.log = _KINDS[kind][2]
        raw = math.log(init) if self.log else float(init)
        self.raw = nn.Parameter(torch.full(shape, raw, dtype=dtype))

    def forward(self) -> torch.Tensor:
        return self.raw.exp() if self.log else self.raw

    @torch.no_grad()
    def project_(self) -> None:
        low, high = self.bounds
        if self.log:
            self.raw.clamp_(math.log(low), math.log(high))
        else:
            self.raw.clamp_(low, high)

    def extra_repr(self) -> str:
        return f"{self.name}: {self.kind}, bounds={self.bounds}, shape={tuple(self.raw.shape)}"


class HyperParameters(nn.ModuleDict):
    """Named hyperparameters; ``values()`` gives tensors, ``scalars()`` a flat dict for logging."""

    def value(self, name: str) -> torch.Tensor:
        return self[name]()

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: hp() for name, hp in self.items()}

    def project_(self) -> None:
        for hp in self.values():
            hp.project_()

    def scalars(self) -> dict[str, float]:
        """Every element under a readable name (``lr``, ``weight_decay.3``, ``lr.2.0``)."""
        out: dict[str, float] = {}
        for name, hp in self.items():
            out.update(_flatten(name, hp().detach()))
        return out

    def raw_parameters(self) -> Iterator[nn.Parameter]:
        return (hp.raw for hp in self.values())


def _flatten(name: str, value: torch.Tensor) -> dict[str, float]:
    if value.dim() == 0:
        return {name: float(value)}
    out = {}
    for index in torch.cartesian_prod(*[torch.arange(n) for n in value.shape]).reshape(value.numel(), -1).tolist():
        out[".".join([name, *map(str, index)])] = float(value[tuple(index)])
    return out
