"""User-facing errors: each carries a one-line message that names the bad value."""

from __future__ import annotations

__all__ = ["ConfigError", "MissingDependencyError"]


class ConfigError(ValueError):
    """Invalid configuration or data. The CLI prints the message on one line and exits 2."""


class MissingDependencyError(ConfigError, ImportError):
    """An optional package or data package is not installed; the message names what to install."""
