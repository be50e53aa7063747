"""Opening and closing MLflow runs so that none is ever left RUNNING."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from metaopt._imports import require

__all__ = ["DEFAULT_TRACKING_URI", "resolve_tracking_uri", "mlflow_run", "log_figure"]

# MLflow's embedded SQLite store in the working directory, as `mlflow ui --backend-store-uri` expects.
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else the embedded SQLite store in the working directory."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


@contextlib.contextmanager
def mlflow_run(
    *,
    experiment: str,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    parent_run_id: str | None = None,
    run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """Start (or, with ``run_id``, resume) an MLflow run and always end it with a matching status.

    A normal exit ends it FINISHED, ``KeyboardInterrupt`` KILLED, any other exception FAILED (and
    re-raises). ``parent_run_id`` makes it a nested child run that the MLflow UI shows under its parent.
    """
    mlflow = require("mlflow", "mlflow")
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    mlflow.set_experiment(experiment)
    all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    client = mlflow.MlflowClient()
    run = mlflow.start_run(run_id=run_id, run_name=None if run_id else run_name, tags=all_tags or None,
                           nested=mlflow.active_run() is not None)
    status = "FINISHED"
    try:
        yield run
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        if mlflow.active_run() is not None and mlflow.active_run().info.run_id == run.info.run_id:
            mlflow.end_run(status=status)
        else:  # the caller ended it already, or another run became active: close ours by id
            client.set_terminated(run.info.run_id, status=status)


def log_figure(figure: Any, artifact_file: str, *, run_id: str | None = None, tracking_uri: str | None = None) -> None:
    """Log a matplotlib figure to the active run (or ``run_id`` in ``tracking_uri``, default the current
    URI) and close it (figures otherwise pile up in memory). Rendered with Agg, so no display is needed."""
    mlflow = require("mlflow", "mlflow")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if run_id is None:
        mlflow.log_figure(figure, artifact_file)
    else:
        mlflow.MlflowClient(tracking_uri).log_figure(run_id, figure, artifact_file)
    plt.close(figure)
