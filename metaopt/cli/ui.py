"""``metaopt ui``: the MLflow UI and optuna-dashboard on 127.0.0.1 over the stores metaopt writes."""

from __future__ import annotations

import argparse
from typing import Any

from metaopt.cli._args import positive_int
from metaopt.cli.report import DEFAULT_STORAGE

__all__ = ["add_commands", "cmd_ui"]

UI_EPILOG = """examples:
  metaopt ui                                   # ./optuna.db and ./mlflow.db, ports 5000 and 8080
  metaopt ui --storage sqlite:///studies/optuna.db --tracking-uri sqlite:///studies/mlflow.db
  metaopt ui --port-mlflow 5001 --port-dashboard 8081

Both servers listen on 127.0.0.1 only. Ctrl-C stops both. With an http(s) --tracking-uri no MLflow
UI is started: that server already has one, and its URL is printed. optuna-dashboard comes with
`pip install 'metaopt[ui]'`."""


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
    p.add_argument("--port-mlflow", type=positive_int, default=5000, help="MLflow UI port (default 5000)")
    p.add_argument("--port-dashboard", type=positive_int, default=8080, help="optuna-dashboard port (default 8080)")
    p.add_argument("--no-dashboard", action="store_true", help="start only the MLflow UI")
    p.add_argument("--json", action="store_true", help="print the URLs as one JSON object once both answer")
    p.set_defaults(handler=cmd_ui)


def cmd_ui(args: argparse.Namespace) -> int:
    import json
    import signal
    import time

    from metaopt.errors import ConfigError
    from metaopt.tracking._runs import resolve_tracking_uri
    from metaopt.tracking._server import HOST, start_mlflow_server, start_optuna_dashboard, wait_http

    uri = resolve_tracking_uri(args.tracking_uri)
    if not args.no_dashboard and args.port_mlflow == args.port_dashboard:
        raise ConfigError(f"--port-mlflow and --port-dashboard are both {args.port_mlflow}")
    for port in (args.port_mlflow, None if args.no_dashboard else args.port_dashboard):
        if port is not None and _in_use(HOST, port):
            raise ConfigError(f"port {port} on {HOST} is already in use; choose another")
    servers = []
    urls: dict[str, str] = {}
    # Ctrl-C, and also `kill` (SIGTERM) and SIGINT to a background `metaopt ui &` (whose shell ignores
    # SIGINT), stop both servers: they run in their own process groups and would otherwise outlive us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if uri.startswith(("http://", "https://")):
            urls["mlflow"] = uri
        else:
            servers.append(start_mlflow_server(uri, port=args.port_mlflow, wait=None))
            urls["mlflow"] = servers[-1].url
        if not args.no_dashboard:
            servers.append(start_optuna_dashboard(args.storage, port=args.port_dashboard, wait=None))
            urls["optuna_dashboard"] = servers[-1].url
        for server in servers:
            wait_http(f"{server.url}/health" if server.name == "mlflow server" else server.url, server, 300)
        print(f"MLflow UI:        {urls['mlflow']}", flush=True)
        if "optuna_dashboard" in urls:
            print(f"optuna-dashboard: {urls['optuna_dashboard']}", flush=True)
        print("Ctrl-C stops both.", flush=True)
        if args.json:
            print(json.dumps(urls, sort_keys=True), flush=True)
        while all(s.process.poll() is None for s in servers):
            time.sleep(0.5)
        gone = next(s for s in servers if s.process.poll() is not None)
        raise ConfigError(f"{gone.name} stopped (exit code {gone.process.returncode}): {gone.tail(1)}")
    except KeyboardInterrupt:
        return 0
    finally:
        for server in servers:
            server.stop()
        signal.signal(signal.SIGTERM, previous_term)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _in_use(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) == 0
