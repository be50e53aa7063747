"""`metaopt ui`: the MLflow UI and optuna-dashboard answer HTTP on free loopback ports, then Ctrl-C stops both."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from metaopt.testing import run_cli
from metaopt.tracking._server import free_port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_ui_serves_both_and_stops_on_ctrl_c(tmp_path, tracking_uri):
    import optuna

    optuna.create_study(storage=f"sqlite:///{tmp_path / 'optuna.db'}", study_name="ui-study")
    port_mlflow, port_dashboard = free_port(), free_port()
    while port_dashboard == port_mlflow:
        port_dashboard = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "metaopt", "ui", "--storage", f"sqlite:///{tmp_path / 'optuna.db'}",
         # The session's store: its tables exist already, so the server skips minutes of migrations on 2 cores.
         "--tracking-uri", tracking_uri, "--port-mlflow", str(port_mlflow),
         "--port-dashboard", str(port_dashboard), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    try:
        lines = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("{"):
                break
        urls = json.loads(lines[-1])
        assert urls == {"mlflow": f"http://127.0.0.1:{port_mlflow}",
                        "optuna_dashboard": f"http://127.0.0.1:{port_dashboard}"}, "".join(lines)
        assert any(urls["mlflow"] in line for line in lines) and any(urls["optuna_dashboard"] in line for line in lines)
        with urllib.request.urlopen(f"{urls['mlflow']}/ajax-api/2.0/mlflow/experiments/search?max_results=5") as r:
            assert r.status == 200 and "experiments" in json.loads(r.read())
        with urllib.request.urlopen(f"{urls['optuna_dashboard']}/api/studies") as r:
            assert r.status == 200 and "ui-study" in r.read().decode()
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 20
    while (_listening(port_mlflow) or _listening(port_dashboard)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _listening(port_mlflow) and not _listening(port_dashboard)


def _run(args: list[str], capsys) -> tuple[int, str]:
    code, _, err = run_cli(args, capsys)
    return code, err


def test_missing_optuna_dashboard_names_what_to_install(monkeypatch, tmp_path, capsys):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    # An http tracking URI starts no MLflow UI; `ui` checks that something answers there (a first request
    # within a time-out, not only a connection), so serve /health.
    import http.server
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        code, err = _run(["ui", "--tracking-uri", uri, "--storage", f"sqlite:///{tmp_path / 'o.db'}",
                          "--port-dashboard", str(free_port())], capsys)
        server.shutdown()
    assert code == 2 and err.strip().count("\n") == 0
    assert "pip install" in err and "optuna-dashboard" in err and "Traceback" not in err


def test_ports_in_use_or_equal_are_refused(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = _run(["ui", "--port-mlflow", str(port), "--port-dashboard", str(free_port())], capsys)
        assert code == 2 and f"port {port}" in err and err.strip().count("\n") == 0
    code, err = _run(["ui", "--port-mlflow", "5999", "--port-dashboard", "5999"], capsys)
    assert code == 2 and "5999" in err
