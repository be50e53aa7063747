"""Study storage: an embedded SQLite file by default, any SQLAlchemy URL, or Optuna's journal file.

``journal:PATH`` or any path ending in ``.log`` selects ``JournalStorage`` on a file (safe for many
processes on one machine or a shared file system, no database needed). Every other value is an
SQLAlchemy URL for ``RDBStorage`` (``sqlite:///optuna.db``, ``postgresql://user@host/db``).
Both get heartbeats (Optuna's for RDB storages, :mod:`._journal`'s for the journal, which Optuna
gives none), so a trial whose worker died is failed after ``grace_period`` seconds and retried;
:mod:`._recovery` also fails at once RUNNING trials whose worker process on this machine no longer exists.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

from metaopt.errors import ConfigError

__all__ = ["DEFAULT_STORAGE", "STORAGE_ENV", "open_storage", "redact_url", "public_config", "resolve_storage",
           "password_to_env", "MAX_RETRY", "ATTEMPT_ATTRS", "retry_callback", "worker_identity",
           "host_name", "EXIT_STORAGE_LOST", "StorageLost", "storage_lost", "describe_storage_error",
           "quiet_lost_storage_in_threads"]

DEFAULT_STORAGE = "sqlite:///optuna.db"
# The storage URL can come from the environment instead of --storage, so a password in it is on no
# command line (for PostgreSQL, libpq's own PGPASSWORD or ~/.pgpass with a URL that has no password work too).
STORAGE_ENV = "METAOPT_STORAGE"
# `metaopt tune` (and each worker process): the study's database went away mid-study; finished trials are kept
EXIT_STORAGE_LOST = 4
MAX_RETRY = 2  # a trial killed twice with the same parameters is probably killing its worker


def open_storage(url: str | None = None, *, heartbeat_interval: int = 10, grace_period: int | None = None
                 ) -> BaseStorage:
    """Open (creating if needed) the storage at ``url``; an unreachable one raises ConfigError."""
    url = resolve_storage(url)
    try:
        if url.startswith("journal:") or url.endswith(".log"):
            from optuna.storages.journal import JournalFileBackend

            from metaopt.tuning._journal import HeartbeatJournalStorage

            path = Path(url.removeprefix("journal:")).expanduser()
            if not path.parent.is_dir():
                raise ConfigError(f"journal storage folder {path.parent} does not exist")
            return HeartbeatJournalStorage(
                JournalFileBackend(str(path)), heartbeat_interval=heartbeat_interval,
                grace_period=grace_period or 3 * heartbeat_interval, stale_trial_callback=retry_callback(),
            )
        if "://" not in url:
            raise ConfigError(f"storage {url!r} is neither an SQLAlchemy URL nor a journal file (journal:PATH)")
        engine_kwargs = {}
        if url.startswith("sqlite"):
            # Several worker processes write one SQLite file: wait for the lock instead of failing.
            engine_kwargs = {"connect_args": {"timeout": 60}}
        elif url.startswith("postgres") and "connect_timeout" not in url:
            # A server that accepts connections and never answers would hold every worker (psycopg's own
            # default is 130 s); PGCONNECT_TIMEOUT, set by the CLI unless the user has, gives the seconds.
            from metaopt._network import pg_connect_timeout

            engine_kwargs = {"connect_args": {"connect_timeout": pg_connect_timeout()}}

        def rdb() -> BaseStorage:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; we rely on them knowingly
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period or 3 * heartbeat_interval,
                    heartbeat_stale_trial_callback=retry_callback(),
                )

        for pause in (0.2, 0.5, None):
            try:
                storage = rdb()
                break
            except Exception as exc:
                if pause is None or not _lost_schema_race(exc):
                    raise  # the third try's error, if any, is the one reported
                time.sleep(pause)
        if url.startswith("sqlite"):
            _write_locked_transactions(storage.engine)
        return storage
    except ConfigError:
        raise
    except Exception as exc:  # driver missing, host unreachable, bad path: one line naming the URL
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot open storage {_redact(url)}: {first[:200]}") from None


def _write_locked_transactions(engine: Any) -> None:
    """Every SQLite transaction of ``engine`` starts with ``BEGIN IMMEDIATE``, taking the database's write lock
    before its first read. Optuna reads a row and then updates it, trusting ``SELECT ... FOR UPDATE`` to lock
    the row, which SQLite ignores: two workers that popped the same queued trial both set it RUNNING and ran it
    (a Ctrl-C'd study's two retries, resumed by two workers: one parameter set ran twice, and the second tell
    raised UpdateFinishedTrialError). SQLAlchemy's documented recipe for pysqlite; the 60 s busy time-out
    lets the other processes wait their turn."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite would otherwise BEGIN (deferred) before a write only

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while the schema was made lack the first listener


def _lost_schema_race(exc: BaseException) -> bool:
    """Processes that open a new database at the same moment (hosts started together) all create its tables;
    the losers fail with "table ... already exists" or a duplicate key, and find the tables on a second try."""
    import sqlalchemy.exc

    return isinstance(exc, sqlalchemy.exc.IntegrityError) or (
        isinstance(exc, sqlalchemy.exc.DatabaseError) and "already exists" in str(exc))


def resolve_storage(url: str | None) -> str:
    """``url``, else ``$METAOPT_STORAGE``, else the SQLite file in the working directory."""
    return url or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


# What one attempt at a trial records (metaopt.tuning._objective, the pruning callback, the budget guards):
# a retry starts without them. A retry that kept "worker" named the dead process until its new worker set its
# own, so in between another process's recovery failed the running retry under it (UpdateFinishedTrialError).
ATTEMPT_ATTRS = frozenset({
    "worker", "mlflow_run_id", "run_dir", "run_config", "algorithm", "metric", "iterations_run", "train_seconds",
    "fail_reason", "over_budget", "discarded", "pruned_at", "val_mean", "val_ci95", "val_scores",
    "val_scores_by_step"})


def retry_callback() -> Callable[[optuna.Study, FrozenTrial], None]:
    """Optuna's callback that enqueues a copy of a failed trial (``failed_trial``, ``retry_history`` system
    attrs; at most :data:`MAX_RETRY` retries), with the parameters and the user attrs it was enqueued with
    (``--reproducible``'s batch and slot) but none of the failed attempt's (:data:`ATTEMPT_ATTRS`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        enqueue = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)

    def retry(study: optuna.Study, trial: FrozenTrial) -> None:
        fresh = copy.copy(trial)
        fresh.user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in ATTEMPT_ATTRS}
        enqueue(study, fresh)

    return retry


def redact_url(url: str | None) -> str | None:
    """The URL without a password (``user:***@host``, ``password=***``), for anything printed or logged."""
    if not url:
        return url
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            url = f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return re.sub(r"(?i)((?:password|passwd|pwd)=)[^&;]*", r"\1***", url)


_redact = redact_url  # the old private name


def password_to_env(url: str) -> tuple[str, dict[str, str]]:
    """For a child process that takes the URL on its command line (optuna-dashboard): a PostgreSQL URL's
    password moves to libpq's ``PGPASSWORD`` in the child's environment; other URLs are left as they are."""
    if url.startswith("postgresql") and "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            from urllib.parse import unquote

            user, password = creds.split(":", 1)
            return f"{scheme}://{user}@{host}", {"PGPASSWORD": unquote(password)}
    return url, {}


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """A study's configuration as it may be logged (MLflow params) or printed: URLs redacted."""
    return {k: redact_url(v) if k in ("storage", "tracking_uri") and isinstance(v, str) else v
            for k, v in config.items()}


def worker_identity() -> str:
    """``host:pid`` of this process, stored on each trial so a dead worker's trial can be found."""
    return f"{host_name()}:{os.getpid()}"


def host_name() -> str:
    """This host's name in trials' ``worker`` attr: ``$METAOPT_WORKER_HOST``, else the node name. Set it where
    hosts share a node name (containers) so a process id is only ever checked on its own host."""
    return os.environ.get("METAOPT_WORKER_HOST") or os.uname().nodename


class StorageLost(RuntimeError):
    """Worker processes of one ``tune`` lost the study's database (each said so on one line, exit code 4)."""


def _causes(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and what it was raised from or while handling, as a traceback prints them."""
    out: list[BaseException] = []
    while exc is not None and all(exc is not e for e in out):
        out.append(exc)
        exc = exc.__cause__ if exc.__cause__ is not None else None if exc.__suppress_context__ else exc.__context__
    return out


def _lost(exc: BaseException) -> bool:
    import sqlalchemy.exc

    return isinstance(exc, (StorageLost, optuna.exceptions.StorageInternalError, sqlalchemy.exc.OperationalError,
                            sqlalchemy.exc.InterfaceError))


def storage_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is the study's database going away (refused or dropped connection, a failed commit, a
    full disk), or an error raised while handling that: Optuna answers a trial it cannot record with
    ``AssertionError: Should not reach.``, and MLflow's last write fails the same way on a full disk. A
    ConfigError is bad input (a storage that never opened), whatever it was raised from."""
    if isinstance(exc, ConfigError):
        return False
    return any(_lost(e) for e in _causes(exc))


def describe_storage_error(exc: BaseException) -> str:
    """One line for a lost storage: the database's own first line (SQLAlchemy's ``orig``), password masked."""
    lost = next((e for e in _causes(exc) if _lost(e)), exc)
    if isinstance(lost, StorageLost):
        return str(lost)
    chain = _causes(lost)  # Optuna's StorageInternalError is raised from SQLAlchemy's, which holds the driver's
    cause = next((e.orig for e in chain if getattr(e, "orig", None) is not None), chain[-1])
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return (redact_url(first) or "")[:200]


@contextlib.contextmanager
def quiet_lost_storage_in_threads() -> Iterator[None]:
    """Inside the block, a thread that dies of a lost storage (Optuna's heartbeat thread, writing every few
    seconds, is the first to meet a full disk) prints nothing: the main thread meets the same error at its next
    write and the CLI names it in one line. Other errors in threads print as before; ``METAOPT_DEBUG=1`` keeps all."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and storage_lost(args.exc_value) and not os.environ.get("METAOPT_DEBUG"):
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous
