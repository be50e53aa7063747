"""Search spaces: one plain ``space(trial) -> dict`` per algorithm, found by name, plus the joint space.

``search_spaces/<algorithm>.py`` defines ``space(trial)`` for the registered algorithm of that name
(``-`` in a name becomes ``_``), using only ``suggest_float`` / ``suggest_int`` /
``suggest_categorical``, so ``optuna.trial.FixedTrial`` tests it with no study. A space returns one
flat dict: keys that are ``TrainConfig`` fields (``outer_lr``, ``meta_batch``) configure the outer
loop, every other key is a hyperparameter of the algorithm. The ranges and the papers they come
from are written next to each space.

The joint space adds ``algorithm`` as a categorical choice and names each algorithm's parameters
``<algorithm>.<name>``, so they are conditional on that choice.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from metaopt.errors import ConfigError
from search_spaces._common import FixedTrialView, PrefixedTrial

__all__ = ["Space", "get_space", "has_space", "joint_space", "load_space", "with_fixed", "PrefixedTrial"]

Space = Callable[[Any], dict[str, Any]]


def _module_name(algorithm: str) -> str:
    return f"search_spaces.{algorithm.replace('-', '_')}"


def has_space(algorithm: str) -> bool:
    try:
        return callable(getattr(importlib.import_module(_module_name(algorithm)), "space", None))
    except ModuleNotFoundError:
        return False


def get_space(algorithm: str) -> Space:
    """The built-in space of ``algorithm``; ConfigError if it has none."""
    if not algorithm.replace("-", "_").isidentifier() or not has_space(algorithm):
        raise ConfigError(f"no search space for algorithm {algorithm!r}: add search_spaces/{algorithm}.py "
                          "with space(trial) -> dict")
    return importlib.import_module(_module_name(algorithm)).space


def joint_space(algorithms: Sequence[str]) -> Space:
    """A space whose ``algorithm`` is a categorical choice among ``algorithms``; each algorithm's
    parameters are searched only when it is chosen, under the name ``<algorithm>.<param>``."""
    if not algorithms:
        raise ConfigError("the joint space needs at least one algorithm")
    spaces = {name: get_space(name) for name in algorithms}

    def space(trial: Any) -> dict[str, Any]:
        name = trial.suggest_categorical("algorithm", list(spaces))
        return {"algorithm": name, **spaces[name](PrefixedTrial(trial, f"{name}."))}

    return space


def load_space(spec: str) -> Space:
    """A user's space from ``module:function`` (the module must be importable)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"expected a space as module:function, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import search space module {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"module {module_name!r} has no function {attr!r}")
    return fn


def with_fixed(space: Space, fixed: Mapping[str, Any]) -> Space:
    """``space`` with some parameters fixed instead of searched (``{"meta_batch": 4}``)."""

    def fixed_space(trial: Any) -> dict[str, Any]:
        return space(FixedTrialView(trial, fixed))

    return fixed_space
