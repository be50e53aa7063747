"""Lazy imports of optional heavy packages with a one-line hint naming what to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from metaopt.errors import MissingDependencyError


def require(module: str, install: str) -> ModuleType:
    """Import ``module`` or raise a one-line error telling the user what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"'{module}' is needed here but not installed: pip install {install}"
        ) from exc
