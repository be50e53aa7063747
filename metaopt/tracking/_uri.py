"""Checking an MLflow tracking URI before any work is done, so a typo fails in one line and a server
that is not there fails in seconds (MLflow itself retries for minutes, then prints a long traceback)."""

from __future__ import annotations

import socket
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import unquote, urlsplit

from metaopt.errors import ConfigError

__all__ = ["check_tracking_uri", "check_postgres_answers", "local_store_path", "SCHEMES"]

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
        raise ConfigError(f"{option} {_masked(uri)!r}: unknown scheme {parts.scheme + '://'!r}; use "
                          "sqlite:///mlflow.db, a folder, postgresql://..., or an MLflow server's http://HOST:PORT")
    if scheme in ("sqlite", "file", ""):
        _check_store_folder(uri, option)
    if scheme == "postgresql":
        check_postgres_answers(uri, option)
    if scheme in ("http", "https"):
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise ConfigError(f"{option} {_masked(uri)!r}: not a valid port") from None
        if not parts.hostname:
            raise ConfigError(f"{option} {_masked(uri)!r}: no host")
        try:
            socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConfigError(f"{option} {_masked(uri)!r}: no MLflow server answers at {parts.hostname}:{port} "
                              f"({reason})") from None
        _check_http_answers(uri, option)
    return uri


def _check_http_answers(uri: str, option: str) -> None:
    """A server that accepts connections must also answer a first request within MLflow's own request
    time-out; one that never does would otherwise hold the command (MLflow retries each request)."""
    import urllib.error
    import urllib.request

    from metaopt._network import http_timeout

    timeout = http_timeout()
    parts = urlsplit(uri)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    netloc = f"{host}:{parts.port}" if parts.port else str(host)  # no user:password: /health needs none
    try:
        with urllib.request.urlopen(f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return  # an answer (a proxy's 404, an auth page): MLflow itself says what is wrong with it
    except TimeoutError:
        raise ConfigError(f"{option} {_masked(uri)!r}: the server accepted a connection but did not answer "
                          f"within {timeout} s (MLFLOW_HTTP_REQUEST_TIMEOUT)") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ConfigError(f"{option} {_masked(uri)!r}: the server accepted a connection but did not "
                              f"answer within {timeout} s (MLFLOW_HTTP_REQUEST_TIMEOUT)") from None
    except (OSError, ValueError):
        return  # a reset, a TLS failure: not a silent server; MLflow's own error follows when it is used


def check_postgres_answers(uri: str, option: str) -> None:
    """Connect to a PostgreSQL store once, with the connect time-out in force (``PGCONNECT_TIMEOUT``), so a
    server that is down, silent or refuses the login is one line naming ``option`` now, not after the work."""
    try:
        import psycopg
    except ImportError:
        return  # SQLAlchemy names the missing driver when the store is opened
    from metaopt._network import pg_connect_timeout

    conninfo = "postgresql://" + uri.split("://", 1)[1]  # postgresql+psycopg:// is SQLAlchemy's spelling
    timeout = pg_connect_timeout()
    try:
        psycopg.connect(conninfo, connect_timeout=timeout, autocommit=True).close()
    except psycopg.ProgrammingError:
        return  # options psycopg does not take but the SQLAlchemy dialect does: that one will judge them
    except psycopg.OperationalError as exc:
        text = str(exc)
        if "timeout" in text.lower():
            raise ConfigError(f"{option} {_masked(uri)!r}: the database did not answer within {timeout} s "
                              "(PGCONNECT_TIMEOUT)") from None
        first = (text.strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{option} {_masked(uri)!r}: cannot connect ({_masked(first)[:200]})") from None


def _masked(text: str) -> str:
    from metaopt.tuning._storage import redact_url  # optuna: imported only for an error message

    return str(redact_url(text))


def _check_store_folder(uri: str, option: str) -> None:
    """A local store must be created in an existing folder: MLflow would otherwise create every missing
    folder of a mistyped path (``sqlite:////nonexistent/dir/m.db``) and leave them behind."""
    path = local_store_path(uri)
    if path is None:
        return
    if uri.lower().startswith("sqlite") and path.is_dir():
        raise ConfigError(f"{option} {_masked(uri)!r}: {path} is a folder; give a database file, e.g. "
                          f"sqlite:///{path / 'mlflow.db'}")
    if not path.exists() and not path.parent.is_dir():
        raise ConfigError(f"{option} {_masked(uri)!r}: folder {path.parent} does not exist (create it first)")
    if uri.lower().startswith("sqlite") and path.is_file():
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise ConfigError(f"{option} {_masked(uri)!r}: cannot read {path} ({exc.strerror or exc})") from None
        if head and head != b"SQLite format 3\x00":  # an empty file is a new database to SQLite
            raise ConfigError(f"{option} {_masked(uri)!r}: {path} is not an SQLite database")


def local_store_path(uri: str | None) -> Path | None:
    """The local file behind a study storage or MLflow tracking URI (``sqlite:///PATH``, ``journal:PATH``, a
    ``*.log`` path, ``file:PATH`` or a bare path), else None (a server, an in-memory database)."""
    if not uri:
        return None
    if uri.startswith("journal:"):
        return Path(uri.removeprefix("journal:")).expanduser()
    parts = urlsplit(uri)
    scheme = parts.scheme.lower().split("+")[0]
    if scheme == "sqlite":
        rest = uri.split("://", 1)[1] if "://" in uri else ""
        rest = rest[1:] if rest.startswith("/") else rest  # sqlite:///rel.db -> rel.db; sqlite:////abs -> /abs
        rest = rest.split("?", 1)[0]
        return Path(unquote(rest)).expanduser() if rest and rest != ":memory:" else None
    if scheme == "file":
        return Path(unquote(parts.path)).expanduser() if parts.path else None
    if scheme == "" or len(scheme) == 1:  # a bare path (a Windows drive letter reads as a scheme)
        return Path(uri).expanduser()
    return None
