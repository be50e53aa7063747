"""Pieces the per-algorithm spaces share, and trial views that rename or fix parameters.

Ranges, with the literature they come from:
- Outer loop: Adam at 1e-3 in MAML (Finn et al. 2017), Meta-SGD (Li et al. 2017) and MAML++
  (Antoniou et al. 2019); we search one decade either side, log scale. Meta-batch 32 tasks for
  Omniglot and 25 for sinusoids in MAML, 4 / 2 for miniImageNet, 5 in Reptile (Nichol et al. 2018).
- Inner SGD rate: 0.01 (sinusoid), 0.1 (Omniglot 20-way) and 0.4 (Omniglot 5-way) in MAML;
  we search [1e-3, 1] on a log scale. With the inner Adam, 1e-3 as in Reptile's code, searched
  over [1e-4, 1e-1]; Adam's rate is another quantity, hence its own parameter name.
- Inner steps: 1 (MAML Omniglot 5-way, Meta-SGD), 5 (MAML 20-way, MAML++), searched in 1..5.
- First / second order: both, as MAML reports both (FOMAML ≈ MAML on Omniglot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["outer", "gbml", "PrefixedTrial", "FixedTrialView"]

META_BATCHES: tuple[int, ...] = (4, 8, 16, 32)
INNER_OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")


def outer(trial: Any, *, lr: tuple[float, float] = (1e-4, 1e-2), meta_batches: Sequence[int] = META_BATCHES
          ) -> dict[str, Any]:
    """Outer-loop knobs (``TrainConfig`` fields): the outer learning rate and the meta-batch."""
    return {
        "outer_lr": trial.suggest_float("outer_lr", lr[0], lr[1], log=True),
        "meta_batch": trial.suggest_categorical("meta_batch", list(meta_batches)),
    }


def gbml(
    trial: Any,
    *,
    sgd_lr: tuple[float, float] = (1e-3, 1.0),
    adam_lr: tuple[float, float] = (1e-4, 1e-1),
    steps: tuple[int, int] = (1, 5),
    first_order: bool | None = None,
    optimizers: Sequence[str] = INNER_OPTIMIZERS,
) -> dict[str, Any]:
    """Inner-loop knobs of the gradient-based learners (``GBMLConfig`` fields).

    ``first_order=None`` searches first and second order; a bool fixes it (FOMAML, Reptile).
    """
    params: dict[str, Any] = {}
    optimizer = trial.suggest_categorical("inner_optimizer", list(optimizers)) if len(optimizers) > 1 \
        else optimizers[0]
    params["inner_optimizer"] = optimizer
    if optimizer == "adam":
        params["inner_lr"] = trial.suggest_float("inner_lr_adam", adam_lr[0], adam_lr[1], log=True)
    else:
        params["inner_lr"] = trial.suggest_float("inner_lr", sgd_lr[0], sgd_lr[1], log=True)
    if optimizer == "momentum":
        params["momentum"] = trial.suggest_float("momentum", 0.0, 0.95)
    params["inner_steps"] = trial.suggest_int("inner_steps", steps[0], steps[1])
    if first_order is None:
        params["first_order"] = trial.suggest_categorical("first_order", [False, True])
    else:
        params["first_order"] = first_order
    return params


class PrefixedTrial:
    """A view of ``trial`` that names every parameter ``prefix + name``.

    The joint space gives each algorithm's parameters their own names (``maml.inner_lr``), so
    samplers never mix one algorithm's distribution with another's, while each space function keeps
    plain names and stays testable on its own.
    """

    def __init__(self, trial: Any, prefix: str) -> None:
        self._trial = trial
        self._prefix = prefix

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> float:
        return self._trial.suggest_float(self._prefix + name, *args, **kwargs)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> int:
        return self._trial.suggest_int(self._prefix + name, *args, **kwargs)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._trial.suggest_categorical(self._prefix + name, choices)

    def __getattr__(self, attr: str) -> Any:  # number, set_user_attr, ... pass through
        return getattr(self._trial, attr)


class FixedTrialView:
    """A view of ``trial`` that answers some parameters with fixed values instead of searching them.

    A key matches a parameter by its plain name, with or without the joint space's prefix
    (``meta_batch`` fixes ``maml.meta_batch`` too).
    """

    def __init__(self, trial: Any, fixed: Mapping[str, Any]) -> None:
        self._trial = trial
        self._fixed = dict(fixed)

    def _lookup(self, name: str) -> tuple[bool, Any]:
        for key, value in self._fixed.items():
            if name == key or name.endswith("." + key):
                return True, value
        return False, None

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> float:
        hit, value = self._lookup(name)
        return value if hit else self._trial.suggest_float(name, *args, **kwargs)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> int:
        hit, value = self._lookup(name)
        return value if hit else self._trial.suggest_int(name, *args, **kwargs)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        hit, value = self._lookup(name)
        return value if hit else self._trial.suggest_categorical(name, choices)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._trial, attr)
