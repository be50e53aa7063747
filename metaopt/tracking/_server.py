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

__all__ = ["Server", "free_port", "start_mlflow_server", "start_optuna_dashboard", "wait_http"]

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
    ``artifacts_destination`` (default ``./mlartifacts``). Waits for HTTP unless ``wait`` is None."""
    port = port or free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
               "--host", HOST, "--port", str(port), "--workers", "1"]
    if artifacts_destination is not None:
        command += ["--artifacts-destination", str(artifacts_destination)]
    # The server's job runner (GenAI scorer jobs) starts extra worker processes metaopt never uses.
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": os.environ.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")}
    server = _spawn("mlflow server", command, f"http://{HOST}:{port}", log, env)
    if wait:
        wait_http(f"{server.url}/health", server, wait)
    return server


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
        from metaopt.tuning._storage import password_to_env

        url, env = password_to_env(storage)  # no password on the dashboard's command line
        command.append(url)
    server = _spawn("optuna-dashboard", command, f"http://{HOST}:{port}", log, env)
    if wait:
        wait_http(f"{server.url}/", server, wait)
    return server
