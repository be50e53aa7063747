"""MLflow tracking: one door for every part of metaopt that logs runs.

Algorithms never import this; the trainer reaches MLflow through callbacks, and the tuning,
hyperparameter and prompting commands open their runs with :func:`mlflow_run`.
"""

from metaopt.tracking._runs import DEFAULT_TRACKING_URI, log_figure, mlflow_run, resolve_tracking_uri

__all__ = ["DEFAULT_TRACKING_URI", "resolve_tracking_uri", "mlflow_run", "log_figure"]
