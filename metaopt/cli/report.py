"""``metaopt report``: one self-contained HTML page of an Optuna study. Argparse only at import time."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_commands", "cmd_report", "DEFAULT_STORAGE"]

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


def add_commands(sub: Any) -> None:
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


def cmd_report(args: argparse.Namespace) -> int:
    from metaopt.cli._args import check_out_file, check_storage_answers, check_tracking, print_json
    from metaopt.errors import ConfigError
    from metaopt.tracking._report import open_study, write_report
    from metaopt.tracking._runs import resolve_tracking_uri

    # Before the study is opened: --out must not be the study's database, the tracking store, or any other
    # file that is not a report (this command once wrote its HTML over the --storage file).
    stores = [("--storage", args.storage)]
    if not args.no_mlflow:
        stores.append(("--tracking-uri", resolve_tracking_uri(args.tracking_uri)))
    target = check_out_file(args.out, "--out", kind="report", stores=stores)
    if not args.no_mlflow:
        check_tracking(args.tracking_uri, storage=args.storage)
    check_storage_answers(args.storage)
    study = open_study(args.storage, args.study)
    if not study.trials:
        raise ConfigError(f"study {study.study_name!r} in {args.storage} has no trials yet; nothing to report")
    check_out_file(args.out, "--out", kind="report", stores=stores)  # again: building the page takes a while
    out = write_report(study, target)
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
