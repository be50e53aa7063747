"""Keeping MLflow's and Optuna's own chatter off the terminal: a command shows what is the user's
(results, their run links, registered versions), not a library's housekeeping."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

__all__ = ["quiet_library_logs", "no_artifact_progress_bars", "optuna_quiet"]

# INFO lines a user never asked for: "Creating initial MLflow database tables...", "Updating database
# tables", alembic's migration steps, "Experiment with name ... does not exist. Creating a new experiment."
_NOISY_LOGGERS = ("mlflow.store.db.utils", "alembic", "mlflow.tracking.fluent")
_PROGRESS_VARIABLE = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def quiet_library_logs() -> None:
    """Raise MLflow's housekeeping loggers to WARNING; warnings and errors still show. Idempotent, and
    cheap: it does not import mlflow (logger levels hold whenever mlflow is imported)."""
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


@contextlib.contextmanager
def no_artifact_progress_bars() -> Iterator[None]:
    """No "Downloading artifacts" bars while MLflow copies a model's own files about (registration)."""
    before = os.environ.get(_PROGRESS_VARIABLE)
    os.environ[_PROGRESS_VARIABLE] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_PROGRESS_VARIABLE, None)
        else:
            os.environ[_PROGRESS_VARIABLE] = before


@contextlib.contextmanager
def optuna_quiet() -> Iterator[None]:
    """Optuna at WARNING inside (its "A new study created in memory" for throwaway studies), as before after."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)
