"""`metaopt ui` puts no password on a command line (issue #33): the MLflow server gets its store URI in its
environment, optuna-dashboard gets PostgreSQL's password in PGPASSWORD, and any other password is refused.
Checked on the argv builders and, with a real PostgreSQL server, through /proc/PID/cmdline of every child."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from metaopt.errors import ConfigError
from metaopt.testing import run_cli
from metaopt.tracking._server import dashboard_storage_argument, free_port, mlflow_server_command

SECRET = "s3cr3t-Pa55"


def test_the_mlflow_server_command_line_holds_no_store_uri():
    uri = f"postgresql://me:{SECRET}@db.example:5432/mlflow"
    command, env = mlflow_server_command(uri, port=5005, artifacts_destination="/tmp/a")
    assert not any(SECRET in part or "postgresql" in part for part in command)
    assert "--backend-store-uri" not in command
    assert env["MLFLOW_BACKEND_STORE_URI"] == uri


@pytest.mark.parametrize("storage, argv_url, password", [
    (f"postgresql://me:{SECRET}@h/db", "postgresql://me@h/db", SECRET),
    ("postgresql+psycopg://me:p%40ss@h:5432/db", "postgresql+psycopg://me@h:5432/db", "p@ss"),
    (f"postgresql://me@h/db?password={SECRET}&sslmode=require", "postgresql://me@h/db?sslmode=require", SECRET),
    ("postgresql://me@h/db", "postgresql://me@h/db", None),
    ("sqlite:///optuna.db", "sqlite:///optuna.db", None),
])
def test_the_dashboards_password_moves_to_its_environment(storage, argv_url, password):
    url, env = dashboard_storage_argument(storage)
    assert url == argv_url
    assert env.get("PGPASSWORD") == password


def test_a_password_that_cannot_leave_the_command_line_is_refused_before_any_server(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"mysql://me:\*\*\*@h/db"):
        dashboard_storage_argument(f"mysql://me:{SECRET}@h/db")
    port = free_port()
    code, _, err = run_cli(["ui", "--storage", f"mysql+pymysql://me:{SECRET}@127.0.0.1:1/db", "--port-mlflow",
                            str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "command line" in lines[0], err
    assert SECRET not in err
    assert not (tmp_path / "m.db").exists()  # refused before the MLflow server started


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
def test_ui_servers_over_postgresql_show_no_password_in_proc(tmp_path, postgres_server):
    import optuna

    password = postgres_server["password"]
    tracking = postgres_server["url"]("ui_mlflow", with_password=True)
    storage = postgres_server["url"]("ui_optuna", with_password=True)
    assert password in tracking and password in storage
    optuna.create_study(storage=storage, study_name="secret-study")
    port_mlflow, port_dashboard = free_port(), free_port()
    while port_dashboard == port_mlflow:
        port_dashboard = free_port()
    # The tracking URI as the issue had it: only in $MLFLOW_TRACKING_URI (the --storage on ui's own command
    # line is the user's choice; what is checked is what ui passes on to its children).
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("PGPASSWORD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "metaopt", "ui", "--storage", storage, "--port-mlflow", str(port_mlflow),
         "--port-dashboard", str(port_dashboard), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 420  # MLflow creates its tables in the new database first
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("{"):
                break
        assert lines and lines[-1].startswith("{"), "".join(lines)
        urls = json.loads(lines[-1])
        children = _descendants(proc.pid)
        commands = {pid: _cmdline(pid) for pid in children}
        assert any("mlflow" in c for c in commands.values()), commands
        assert any("optuna-dashboard" in c or "optuna_dashboard" in c for c in commands.values()), commands
        leaking = {pid: c for pid, c in commands.items() if password in c}
        assert not leaking, leaking
        # Both servers did reach their databases with the password they were given another way.
        with urllib.request.urlopen(f"{urls['mlflow']}/ajax-api/2.0/mlflow/experiments/search?max_results=5") as r:
            assert r.status == 200
        with urllib.request.urlopen(f"{urls['optuna_dashboard']}/api/studies") as r:
            assert r.status == 200 and "secret-study" in r.read().decode()
        assert all(password not in line for line in lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
