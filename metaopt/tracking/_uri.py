"""Checking an MLflow tracking URI before any work is done, so a typo fails in one line and a server
that is not there fails in seconds (MLflow itself retries for minutes, then prints a long traceback)."""

from __future__ import annotations

import socket
from importlib.metadata import entry_points
from urllib.parse import urlsplit

from metaopt.errors import ConfigError

__all__ = ["check_tracking_uri", "SCHEMES"]

# MLflow's own tracking stores (mlflow.tracking._tracking_service.utils); plugins add theirs as
# entry points in the group below.
SCHEMES = frozenset({"", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks",
                     "databricks-uc", "uc"})
_PLUGIN_GROUP = "mlflow.tracking_store"
CONNECT_TIMEOUT_S = 5.0


def check_tracking_uri(uri: str, *, option: str = "--tracking-uri") -> str:
    """Return ``uri`` if MLflow can use it; raise ConfigError naming it if its scheme is unknown or its
    http(s) server does not accept a connection within a few seconds."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower().split("+")[0]  # postgresql+psycopg2 is a postgresql store
    if len(scheme) == 1:  # a Windows drive letter: a local folder
        scheme = ""
    if scheme not in SCHEMES and scheme not in {ep.name for ep in entry_points(group=_PLUGIN_GROUP)}:
        raise ConfigError(f"{option} {uri!r}: unknown scheme {parts.scheme + '://'!r}; use sqlite:///mlflow.db, "
                          "a folder, postgresql://..., or an MLflow server's http://HOST:PORT")
    if scheme in ("http", "https"):
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise ConfigError(f"{option} {uri!r}: not a valid port") from None
        if not parts.hostname:
            raise ConfigError(f"{option} {uri!r}: no host")
        try:
            socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConfigError(f"{option} {uri!r}: no MLflow server answers at {parts.hostname}:{port} "
                              f"({reason})") from None
    return uri
