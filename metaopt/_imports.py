"""Lazy imports of optional heavy packages with a one-line hint naming what to install."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from metaopt.errors import MissingDependencyError


def require(module: str, install: str) -> ModuleType:
    """Import ``module`` or raise a one-line error telling the user what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"'{module}' is needed here but not installed: pip install {install}"
        ) from exc


def lazy_getattr(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[attr]`` only when ``attr`` is first used (PEP 562)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
