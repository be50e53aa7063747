"""``metaopt ui``: the MLflow UI and optuna-dashboard on 127.0.0.1 over the stores metaopt writes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from metaopt.cli._args import check_tracking
from metaopt.cli.report import DEFAULT_STORAGE

__all__ = ["add_commands", "cmd_ui", "last_error_line"]

UI_EPILOG = """examples:
  metaopt ui                                   # ./optuna.db and ./mlflow.db, ports 5000 and 8080
  metaopt ui --storage sqlite:///studies/optuna.db --tracking-uri sqlite:///studies/mlflow.db
  metaopt ui --port-mlflow 5001 --port-dashboard 8081

Both servers listen on 127.0.0.1 only. Ctrl-C stops both. With an http(s) --tracking-uri no MLflow
UI is started: that server already has one, and its URL is printed. optuna-dashboard comes with
`pip install 'metaopt[ui]'`."""


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1 to 65535), got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1 to 65535), got {text}")
    return value


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "ui", help="start the MLflow UI and optuna-dashboard on 127.0.0.1",
        description="Serve the MLflow UI and optuna-dashboard over the same stores metaopt writes, until Ctrl-C.",
        epilog=UI_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--storage", default=DEFAULT_STORAGE,
                   help=f"study storage for optuna-dashboard (default {DEFAULT_STORAGE})")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    p.add_argument("--port-mlflow", type=port, default=5000, help="MLflow UI port (default 5000)")
    p.add_argument("--port-dashboard", type=port, default=8080, help="optuna-dashboard port (default 8080)")
    p.add_argument("--no-dashboard", action="store_true", help="start only the MLflow UI")
    p.add_argument("--json", action="store_true", help="print the URLs as one JSON object once both answer")
    p.set_defaults(handler=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    import json
    import shutil
    import signal
    import tempfile
    import time

    from metaopt.errors import ConfigError
    from metaopt.tracking._runs import mlflow_ui_url, resolve_tracking_uri
    from metaopt.tracking._server import HOST, start_mlflow_server, start_optuna_dashboard, wait_http

    check_tracking(args.tracking_uri, storage=None if args.no_dashboard else args.storage)
    if not args.no_dashboard:
        check_storage(args.storage)
    uri = resolve_tracking_uri(args.tracking_uri)
    if not args.no_dashboard and args.port_mlflow == args.port_dashboard:
        raise ConfigError(f"--port-mlflow and --port-dashboard are both {args.port_mlflow}")
    for port in (args.port_mlflow, None if args.no_dashboard else args.port_dashboard):
        if port is not None and _in_use(HOST, port):
            raise ConfigError(f"port {port} on {HOST} is already in use; choose another")
    servers = []
    urls: dict[str, str] = {}
    logs = Path(tempfile.mkdtemp(prefix="metaopt-ui-"))  # the servers' output, for their last error line
    # Ctrl-C, and also `kill` (SIGTERM) and SIGINT to a background `metaopt ui &` (whose shell ignores
    # SIGINT), stop both servers: they run in their own process groups and would otherwise outlive us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if uri.startswith(("http://", "https://")):
            from metaopt.tuning._storage import redact_url

            urls["mlflow"] = str(redact_url(uri))  # printed: no password
        else:
            servers.append(start_mlflow_server(uri, port=args.port_mlflow, wait=None, log=logs / "mlflow.log"))
            urls["mlflow"] = servers[-1].url
        if not args.no_dashboard:
            servers.append(start_optuna_dashboard(args.storage, port=args.port_dashboard, wait=None,
                                                  log=logs / "optuna-dashboard.log"))
            urls["optuna_dashboard"] = servers[-1].url
        for server in servers:
            try:
                wait_http(f"{server.url}/health" if server.name == "mlflow server" else server.url, server, 300)
            except (RuntimeError, TimeoutError) as exc:
                why = last_error_line(server.tail(50)) or str(exc).splitlines()[0]
                raise ConfigError(f"{server.name} did not start (exit code {server.process.poll()}): {why}") from None
        print(f"MLflow UI:        {mlflow_ui_url(urls['mlflow'], uri)}", flush=True)
        if "optuna_dashboard" in urls:
            print(f"optuna-dashboard: {urls['optuna_dashboard']}", flush=True)
        print("Ctrl-C stops both.", flush=True)
        if args.json:
            print(json.dumps(urls, sort_keys=True), flush=True)
        while all(s.process.poll() is None for s in servers):
            time.sleep(0.5)
        gone = next(s for s in servers if s.process.poll() is not None)
        raise ConfigError(f"{gone.name} stopped (exit code {gone.process.returncode}): "
                          f"{last_error_line(gone.tail(50)) or 'no output'}")
    except KeyboardInterrupt:
        return 0
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(logs, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous_term)


def check_storage(storage: str) -> None:
    """A study storage optuna-dashboard can open: a journal file in an existing folder, or an SQLAlchemy URL
    of an installed dialect (checked here: the dashboard would only fail in its own log)."""
    from metaopt.errors import ConfigError

    if storage.startswith("journal:") or storage.endswith(".log"):
        folder = Path(storage.removeprefix("journal:")).expanduser().parent
        if not folder.is_dir():
            raise ConfigError(f"--storage {storage}: folder {folder} does not exist")
        return
    from sqlalchemy.engine import make_url

    try:
        make_url(storage).get_dialect()
    except Exception as exc:  # ArgumentError for a malformed URL, NoSuchModuleError for an unknown dialect
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        from metaopt.tuning._storage import redact_url

        raise ConfigError(f"--storage {redact_url(storage)!r}: not a study storage ({redact_url(first)})") from None
    from metaopt.cli._args import check_storage_answers
    from metaopt.tracking._server import dashboard_storage_argument

    dashboard_storage_argument(storage)  # a password that would be on the dashboard's command line: refused now
    check_storage_answers(storage)


def last_error_line(output: str) -> str:
    """The line of a server's output that says why it failed: the last one naming an error or exception
    (a traceback's last line), else the last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line or "error:" in line.lower():
            return line
    return lines[-1] if lines else ""


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) == 0
