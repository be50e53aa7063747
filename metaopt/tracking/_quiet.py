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


def _not_raised_anyway(record: logging.LogRecord) -> bool:
    """MLflow's SQL store logs every database error with its traceback ("SQLAlchemy database error. The
    following exception is caught.") and then raises it: the CLI's edge names it in one line (a full disk
    gave 650 lines of these). ``METAOPT_DEBUG=1`` keeps them."""
    return bool(os.environ.get("METAOPT_DEBUG")) or not str(record.msg).startswith("SQLAlchemy database error")


def quiet_library_logs() -> None:
    """Raise MLflow's housekeeping loggers to WARNING; warnings and errors still show, except the store's
    copies of errors it raises. Idempotent, and cheap: it does not import mlflow (logger levels and filters
    hold whenever mlflow is imported)."""
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    store = logging.getLogger("mlflow.store.db.utils")
    if _not_raised_anyway not in store.filters:
        store.addFilter(_not_raised_anyway)


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
