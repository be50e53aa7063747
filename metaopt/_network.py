"""Time-outs for every network connection metaopt makes or starts: MLflow's HTTP client and PostgreSQL.

MLflow's client waits 120 s for each HTTP request and retries 7 times with back-off, and psycopg waits
130 s to connect: a server that accepts a connection and never answers held a command for many minutes.
The defaults below go into the environment at the CLI's edge (only where the user has not set them), so
the command, its worker processes and the servers ``metaopt ui`` starts all read the same values, and
every library that connects (Optuna's RDB storage, MLflow's SQL and HTTP stores, optuna-dashboard) obeys.
Standard library only: imported by ``metaopt --help``.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

__all__ = ["DEFAULTS", "apply_network_timeouts", "pg_connect_timeout", "http_timeout"]

DEFAULTS = {
    # libpq's and psycopg's connect time-out, seconds (psycopg reads this variable as libpq does)
    "PGCONNECT_TIMEOUT": "10",
    # MLflow's HTTP client: seconds per request, and retries (with back-off 2, 4, ... s) after a failure
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
}


def apply_network_timeouts(environ: MutableMapping[str, str] | None = None) -> None:
    """Put :data:`DEFAULTS` into ``environ`` (default ``os.environ``) where they are not set already."""
    environ = os.environ if environ is None else environ
    for name, value in DEFAULTS.items():
        environ.setdefault(name, value)


def _seconds(name: str) -> int:
    try:
        return max(int(float(os.environ.get(name, DEFAULTS[name]))), 1)
    except ValueError:
        return int(DEFAULTS[name])


def pg_connect_timeout() -> int:
    """The PostgreSQL connect time-out in force, seconds (libpq enforces at least 2)."""
    return max(_seconds("PGCONNECT_TIMEOUT"), 2)


def http_timeout() -> int:
    """MLflow's HTTP request time-out in force, seconds."""
    return _seconds("MLFLOW_HTTP_REQUEST_TIMEOUT")
