"""Starting and stopping the MLflow tracking server and optuna-dashboard as child processes on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from metaopt.errors import MissingDependencyError

__all__ = ["Server", "PostgresServer", "free_port", "postgres_binary", "start_mlflow_server", "mlflow_server_command",
           "dashboard_storage_argument", "start_optuna_dashboard", "start_postgres", "wait_http"]

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A server child process in its own process group, so stopping it also stops its workers."""

    name: str
    url: str
    process: subprocess.Popen
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def tail(self, lines: int = 20) -> str:
        if self.log is None or not self.log.is_file():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_http(url: str, server: Server | None = None, timeout: float = 120.0) -> None:
    """Poll ``url`` until it answers HTTP 200, the server process exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if server is not None and server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with code {server.process.returncode}:\n{server.tail()}")
        if time.monotonic() > deadline:
            if server is not None:
                server.stop()
            raise TimeoutError(f"no HTTP answer from {url} within {timeout:.0f} s")
        time.sleep(0.5)


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the parent dies, even by SIGKILL, so a killed
    `metaopt ui` or test session leaves no server behind (they run in their own session otherwise)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _spawn(name: str, command: list[str], url: str, log: Path | None, env: dict[str, str] | None = None) -> Server:
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    try:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env={**os.environ, **(env or {})},
                                   preexec_fn=_die_with_parent)
    finally:
        if log is not None:
            out.close()
    return Server(name, url, process, log)


def start_mlflow_server(
    backend_store_uri: str,
    *,
    port: int | None = None,
    artifacts_destination: str | Path | None = None,
    log: Path | None = None,
    wait: float | None = 120.0,
) -> Server:
    """``mlflow server`` on 127.0.0.1 (one worker) over ``backend_store_uri``, serving artifacts from
    ``artifacts_destination`` (default ``./mlartifacts``). Waits for HTTP unless ``wait`` is None.

    The store URI goes to the server in its environment, never on its command line (see
    :func:`mlflow_server_command`): a database password in it would otherwise be readable by every user in
    ``ps`` and ``/proc/PID/cmdline``."""
    port = port or free_port()
    command, env = mlflow_server_command(backend_store_uri, port=port, artifacts_destination=artifacts_destination)
    server = _spawn("mlflow server", command, f"http://{HOST}:{port}", log, env)
    if wait:
        wait_http(f"{server.url}/health", server, wait)
    return server


def mlflow_server_command(backend_store_uri: str, *, port: int, artifacts_destination: str | Path | None = None
                          ) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow server`` command line and the environment it adds. The store URI is in the environment
    only: ``mlflow server`` reads ``--backend-store-uri`` from ``MLFLOW_BACKEND_STORE_URI`` (a click envvar)
    and hands it to its workers through the environment too, so no process of the server has it in argv."""
    command = [sys.executable, "-m", "mlflow", "server", "--host", HOST, "--port", str(port), "--workers", "1"]
    if artifacts_destination is not None:
        command += ["--artifacts-destination", str(artifacts_destination)]
    env = {"MLFLOW_BACKEND_STORE_URI": backend_store_uri,
           # The server's job runner (GenAI scorer jobs) starts extra worker processes metaopt never uses.
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": os.environ.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")}
    return command, env


def start_optuna_dashboard(storage: str, *, port: int | None = None, log: Path | None = None,
                           wait: float | None = 120.0) -> Server:
    """optuna-dashboard on 127.0.0.1 over ``storage`` (an SQLAlchemy URL, or ``journal:PATH`` / ``*.log``)."""
    executable = shutil.which("optuna-dashboard")
    if executable is None:
        raise MissingDependencyError("optuna-dashboard is not installed: pip install 'metaopt[ui]' "
                                     "(or pip install optuna-dashboard)")
    port = port or free_port()
    command = [executable, "--host", HOST, "--port", str(port)]
    if storage.startswith("journal:") or storage.endswith(".log"):
        command += ["--storage-class", "JournalFileStorage", storage.removeprefix("journal:")]
        env: dict[str, str] = {}
    else:
        url, env = dashboard_storage_argument(storage)  # no password on the dashboard's command line
        command.append(url)
    server = _spawn("optuna-dashboard", command, f"http://{HOST}:{port}", log, env)
    if wait:
        wait_http(f"{server.url}/", server, wait)
    return server


def dashboard_storage_argument(storage: str) -> tuple[str, dict[str, str]]:
    """The storage URL for optuna-dashboard's command line (it reads it from argv only) and the environment
    that carries its password: a PostgreSQL password, in the user part or a ``password=`` parameter, moves to
    libpq's ``PGPASSWORD``. Any other password would be visible to every user in ``ps``: ConfigError."""
    from urllib.parse import parse_qsl, urlencode

    from metaopt.errors import ConfigError
    from metaopt.tuning._storage import password_to_env, redact_url

    url, env = password_to_env(storage)
    if url.startswith("postgresql") and "?" in url:
        base, query = url.split("?", 1)
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if k.lower() != "password"]
        if len(kept) != len(pairs):
            env.setdefault("PGPASSWORD", next(v for k, v in pairs if k.lower() == "password"))
            url = base + (f"?{urlencode(kept)}" if kept else "")
    if redact_url(url) != url:
        raise ConfigError(f"--storage {redact_url(storage)}: optuna-dashboard takes the storage on its command "
                          "line, where a password is visible to every user (ps); give it through the database "
                          "driver's own file or environment, or pass --no-dashboard")
    return url, env


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL server on 127.0.0.1 (see :func:`start_postgres`)."""

    root: Path
    port: int
    password: str
    pid: int
    user: str = "metaopt"

    def url(self, database: str, *, with_password: bool = False) -> str:
        """``postgresql://metaopt@127.0.0.1:PORT/DATABASE``, creating the database if needed (the password
        goes through ``PGPASSWORD`` or, with ``with_password``, in the URL)."""
        import psycopg

        with psycopg.connect(host=HOST, port=self.port, user=self.user, password=self.password, dbname="postgres",
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{database}"')
        secret = f":{self.password}" if with_password else ""
        return f"postgresql://{self.user}{secret}@{HOST}:{self.port}/{database}"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> None:
        """Stop the postmaster by its PID (SIGINT: fast shutdown; SIGKILL: a crash)."""
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)

    def start(self) -> None:
        """(Re)start the server on its data folder and port; after a crash it recovers from its WAL."""
        pg_ctl = postgres_binary("pg_ctl")
        options = f"-c listen_addresses={HOST} -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        subprocess.run([*_run_as_postgres(), pg_ctl, "-D", str(self.root / "data"), "-o", options, "-l",
                        str(self.root / "server.log"), "-w", "-t", "60", "start"], check=True, capture_output=True)
        self.pid = int((self.root / "data" / "postmaster.pid").read_text().split()[0])


def postgres_binary(name: str) -> str | None:
    """``initdb`` / ``pg_ctl`` on PATH or in Debian's /usr/lib/postgresql/*/bin, or None."""
    import glob

    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _run_as_postgres() -> list[str]:
    # initdb and postgres refuse to run as root: as root, run them as the `postgres` user.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start_postgres(port: int | None = None) -> PostgresServer:
    """``initdb`` into a new folder under /tmp (password authentication for user ``metaopt``, a random
    password) and start the server on 127.0.0.1. Raises MissingDependencyError without the binaries."""
    import pwd
    import secrets
    import tempfile

    if not postgres_binary("initdb") or not postgres_binary("pg_ctl"):
        raise MissingDependencyError("PostgreSQL server binaries (initdb, pg_ctl) not found: "
                                     "apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="metaopt-pg-"))  # /tmp: reachable by the postgres user
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")  # KeyError: no such user
        os.chown(root, user.pw_uid, user.pw_gid)
    password = secrets.token_hex(12)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    subprocess.run([*_run_as_postgres(), str(postgres_binary("initdb")), "-D", str(root / "data"), "-U", "metaopt",
                    "--pwfile", str(pwfile), "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-sync"],
                   check=True, capture_output=True)
    pwfile.unlink()
    server = PostgresServer(root, port or free_port(), password, pid=0)
    server.start()
    return server
