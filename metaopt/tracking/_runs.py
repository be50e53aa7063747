"""Opening and closing MLflow runs so that none is ever left RUNNING."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from metaopt._imports import require

__all__ = ["DEFAULT_TRACKING_URI", "resolve_tracking_uri", "mlflow_run", "log_figure", "tag_experiment_kind",
           "mlflow_ui_url", "EXPERIMENT_KIND_TAG", "EXPERIMENT_KIND"]

# MLflow's embedded SQLite store in the working directory, as `mlflow ui --backend-store-uri` expects.
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
# MLflow 3 UIs show an experiment as GenAI (traces overview) or model training (runs table). MLflow reads
# this tag where the UI decides per experiment; MLflow 3.17 decides for the whole UI from its "GenAI |
# Model training" switch or the ``workflowType`` URL parameter instead (``mlflow_ui_url`` sets that).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
_ML_WORKFLOW = "workflowType=machine_learning"


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
    tag_experiment_kind(mlflow.set_experiment(experiment), mlflow.MlflowClient())
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


def tag_experiment_kind(experiment: Any, client: Any) -> None:
    """Mark ``experiment`` as model training for the MLflow UI, unless someone chose a kind already."""
    if EXPERIMENT_KIND_TAG not in (experiment.tags or {}):
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def mlflow_ui_url(server_url: str, tracking_uri: str | None = None) -> str:
    """Where a user should open the MLflow UI at ``server_url``: the runs of the most recently updated
    metaopt experiment in ``tracking_uri`` (or the experiment list), in the model-training view, not on
    the GenAI overview that MLflow 3 opens by default."""
    base = server_url.rstrip("/")
    latest = None
    if tracking_uri is not None:
        import mlflow

        try:
            found = mlflow.MlflowClient(tracking_uri).search_experiments(
                filter_string=f"tags.`{EXPERIMENT_KIND_TAG}` = '{EXPERIMENT_KIND}'",
                order_by=["last_update_time DESC"], max_results=1)
            latest = found[0].experiment_id if found else None
        except Exception:  # an old store or server that cannot filter by tag: the experiment list will do
            latest = None
    page = f"experiments/{latest}/runs" if latest is not None else "experiments"
    return f"{base}/#/{page}?{_ML_WORKFLOW}"


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
