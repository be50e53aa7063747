"""Every network connection has a time-out (issue #33): an MLflow server or a PostgreSQL server that
accepts connections and never answers is one line (exit 2) naming the flag, the URI with its password
masked, and the time-out, within a bounded time, in a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from metaopt._network import DEFAULTS, apply_network_timeouts

BOUND_S = 60  # what the user waits at most, here: MLflow's request time-out (30 s) and the start-up


@pytest.fixture
def silent_port():
    """A TCP port on loopback whose server accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])  # kept open, unanswered
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def _run(args: list[str], cwd, extra_env: dict[str, str] | None = None) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if k not in DEFAULTS and k not in ("MLFLOW_TRACKING_URI",
                                                                                   "METAOPT_STORAGE")}
    env.update(extra_env or {})
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "metaopt", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=BOUND_S + 60)  # the test's own guard; the bound is asserted below
    return proc.returncode, proc.stderr, time.monotonic() - start


def _one_line(code: int, err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("metaopt: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


TUNE = ["tune", "--benchmark", "sinusoid", "--trials", "1", "--iterations", "2", "--no-progress"]


@pytest.mark.slow
def test_a_silent_mlflow_server_with_the_default_time_out(tmp_path, silent_port):
    uri = f"http://127.0.0.1:{silent_port}"
    code, err, seconds = _run([*TUNE, "--storage", "sqlite:///t.db", "--tracking-uri", uri], tmp_path)
    _one_line(code, err, "--tracking-uri", uri, f"{DEFAULTS['MLFLOW_HTTP_REQUEST_TIMEOUT']} s")
    assert seconds < BOUND_S
    assert not (tmp_path / "t.db").exists()  # refused before the study was created


def test_a_silent_mlflow_server_with_the_users_time_out_and_a_masked_password(tmp_path, silent_port):
    uri = f"http://me:hunter2@127.0.0.1:{silent_port}"
    code, err, seconds = _run(["train", "--shots", "2", "--iterations", "1", "--out", "run", "--tracking-uri", uri],
                              tmp_path, {"MLFLOW_HTTP_REQUEST_TIMEOUT": "3"})
    line = _one_line(code, err, "--tracking-uri", f"http://me:***@127.0.0.1:{silent_port}", "3 s")
    assert "hunter2" not in line
    assert seconds < BOUND_S
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [
    [*TUNE, "--tracking-uri", "sqlite:///m.db", "--storage"],
    ["report", "--no-mlflow", "--storage"],
])
def test_a_silent_postgresql_study_storage(command, tmp_path, silent_port):
    url = f"postgresql://me:hunter2@127.0.0.1:{silent_port}/optuna"
    code, err, seconds = _run([*command, url], tmp_path)
    line = _one_line(code, err, "--storage", f"postgresql://me:***@127.0.0.1:{silent_port}/optuna",
                     f"{DEFAULTS['PGCONNECT_TIMEOUT']} s")
    assert "hunter2" not in line
    assert seconds < BOUND_S
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_silent_postgresql_tracking_store_named_in_the_environment(tmp_path, silent_port):
    url = f"postgresql+psycopg://me:hunter2@127.0.0.1:{silent_port}/mlflow"
    code, err, seconds = _run(["train", "--shots", "2", "--iterations", "1", "--out", "run", "--track"], tmp_path,
                              {"MLFLOW_TRACKING_URI": url, "PGCONNECT_TIMEOUT": "2"})
    _one_line(code, err, "$MLFLOW_TRACKING_URI", "me:***@", "2 s")
    assert seconds < BOUND_S


def test_the_library_connects_with_the_time_out_too(silent_port):
    """The Python API (no CLI) also gets connect_timeout in the engine Optuna builds."""
    from metaopt.errors import ConfigError
    from metaopt.tuning._storage import open_storage

    start = time.monotonic()
    with pytest.raises(ConfigError, match="timeout"):
        open_storage(f"postgresql://me@127.0.0.1:{silent_port}/optuna")
    assert time.monotonic() - start < BOUND_S


def test_the_users_own_settings_win():
    env = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "300"}
    apply_network_timeouts(env)
    assert env == {**DEFAULTS, "MLFLOW_HTTP_REQUEST_TIMEOUT": "300"}
