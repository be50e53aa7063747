"""Logging a run's configuration and evaluation results to MLflow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from metaopt._imports import require

if TYPE_CHECKING:
    from metaopt.evaluation import EvalResult
    from metaopt.runs import RunConfig

__all__ = ["flatten_params", "log_run_config", "log_eval_result", "active_run_id"]


def active_run_id(run_id: str | None = None) -> str:
    """``run_id``, else the active run's id. Never starts a run: an implicit one would be left RUNNING."""
    if run_id:
        return run_id
    mlflow = require("mlflow", "mlflow")
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("no active MLflow run: open one with metaopt.tracking.mlflow_run(...) or pass run_id")
    return run.info.run_id


def flatten_params(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dicts become dotted keys (``learner.inner_lr``); values become strings as MLflow stores them."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def log_run_config(run_config: RunConfig | Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Log ``run_config`` as flattened params plus a ``config.json`` artifact (the file a run directory holds)."""
    mlflow = require("mlflow", "mlflow")
    from mlflow.entities import Param

    data = dict(run_config) if isinstance(run_config, Mapping) else run_config.to_dict()
    rid = active_run_id(run_id)
    client = mlflow.MlflowClient()
    params = [Param(k, v) for k, v in flatten_params(data).items()]
    for start in range(0, len(params), 100):  # MLflow's per-request limit on params
        client.log_batch(rid, params=params[start : start + 100])
    client.log_dict(rid, data, "config.json")


def log_eval_result(result: EvalResult, prefix: str, *, step: int | None = None, run_id: str | None = None) -> None:
    """Log ``<prefix>_<metric>`` (e.g. ``test_accuracy``), ``<prefix>_ci95``, ``<prefix>_tasks`` and, when
    adaptation diverged on some tasks, ``<prefix>_diverged``."""
    mlflow = require("mlflow", "mlflow")
    metrics = {f"{prefix}_{result.metric}": result.mean, f"{prefix}_ci95": result.ci95,
               f"{prefix}_tasks": float(result.n_tasks)}
    if result.diverged:
        metrics[f"{prefix}_diverged"] = float(result.diverged)
    log_metrics(mlflow.MlflowClient(), active_run_id(run_id), metrics, step or 0)


def log_metrics(client: Any, run_id: str, metrics: Mapping[str, float], step: int) -> None:
    """One request for a dict of metrics (an HTTP server gets one call, not one per metric)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    # NaN and infinities are logged as they are (MLflow stores them), so a diverged value stays visible.
    batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if isinstance(v, (int, float))]
    if batch:
        client.log_batch(run_id, metrics=batch)
