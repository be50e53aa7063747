"""``metaopt report`` and ``metaopt ui``: looking at studies and runs. Argparse only at import time."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_commands", "cmd_report", "cmd_ui", "DEFAULT_STORAGE"]

# The tuner's default study storage (an embedded SQLite file in the working directory).
DEFAULT_STORAGE = "sqlite:///optuna.db"

REPORT_EPILOG = """examples:
  metaopt report --study glyphs-5w1s --out report.html
  metaopt report --storage sqlite:///studies/optuna.db --study s1 --out s1.html --tracking-uri http://127.0.0.1:5000
  metaopt report --storage journal:studies/s1.log --out s1.html --no-mlflow

The page is one self-contained file (plotly inlined; it opens offline): optimisation history,
parameter importances, parallel coordinates (also within each algorithm of a joint space), best
validation per algorithm with 95% CIs (and the best trial's meta-test result), learning curves of
every trial, and a table of all trials. If the study has an MLflow parent run (set by `metaopt tune`),
the page is also logged to that run as an artifact under its file name."""

UI_EPILOG = """examples:
  metaopt ui                                   # ./optuna.db and ./mlflow.db, ports 5000 and 8080
  metaopt ui --storage sqlite:///studies/optuna.db --tracking-uri sqlite:///studies/mlflow.db
  metaopt ui --port-mlflow 5001 --port-dashboard 8081

Both servers listen on 127.0.0.1 only. Ctrl-C stops both. With an http(s) --tracking-uri no MLflow
UI is started: that server already has one, and its URL is printed. optuna-dashboard comes with
`pip install 'metaopt[ui]'`."""


def add_commands(sub: Any) -> None:
    from metaopt.cli import positive_int

    p = sub.add_parser(
        "report", help="write one self-contained HTML report of an Optuna study",
        description="Write an HTML report of STUDY in STORAGE: plots render offline in any browser.",
        epilog=REPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--storage", default=DEFAULT_STORAGE,
                   help=f"study storage: SQLAlchemy URL or journal:PATH (default {DEFAULT_STORAGE})")
    p.add_argument("--study", help="study name (default: the storage's only study)")
    p.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow store of the study's parent run (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    p.add_argument("--no-mlflow", action="store_true", help="do not log the report to the study's MLflow parent run")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    p.set_defaults(handler=cmd_report)

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


def cmd_report(args: argparse.Namespace) -> int:
    from metaopt.cli import print_json
    from metaopt.tracking._report import open_study, write_report

    study = open_study(args.storage, args.study)
    out = write_report(study, args.out)
    summary: dict[str, Any] = {"study": study.study_name, "out": str(out), "trials": len(study.trials),
                               "mlflow_run_id": None}
    parent = study.user_attrs.get("mlflow_parent_run_id")
    if parent and not args.no_mlflow:
        summary["mlflow_run_id"] = _log_to_parent(parent, out, args.tracking_uri)
    print(f"report on study {study.study_name} ({len(study.trials)} trials) written to {out}"
          + (f"; logged to MLflow run {parent}" if summary["mlflow_run_id"] else ""))
    if args.json:
        print_json(summary)
    return 0


def _log_to_parent(run_id: str, path: Any, tracking_uri: str | None) -> str | None:
    import sys

    import mlflow

    from metaopt.tracking._runs import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(uri)
    try:
        client.get_run(run_id)
    except Exception:  # a study tuned against another store: the report itself is still written
        sys.stderr.write(f"metaopt: note: parent run {run_id} is not in {uri}; report not logged to MLflow "
                         "(pass --tracking-uri)\n")
        return None
    client.log_artifact(run_id, str(path), artifact_path=None)
    return run_id


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
            from metaopt.tuning._storage import redact_url

            urls["mlflow"] = str(redact_url(uri))  # printed: no password
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
