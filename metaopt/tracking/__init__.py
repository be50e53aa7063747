"""MLflow tracking: one door for every part of metaopt that logs runs.

Algorithms never import this; the trainer reaches MLflow through callbacks (:class:`MLflowCallback`),
and the tuning, hyperparameter and prompting commands open their runs with :func:`mlflow_run`.
Nothing here imports mlflow until it is used.
"""

from metaopt.tracking._callback import MLflowCallback, learning_curve_figure
from metaopt.tracking._logging import flatten_params, log_eval_result, log_run_config
from metaopt.tracking._model import log_learner_model
from metaopt.tracking._quiet import quiet_library_logs
from metaopt.tracking._runs import DEFAULT_TRACKING_URI, log_figure, mlflow_run, resolve_tracking_uri

__all__ = [
    "DEFAULT_TRACKING_URI", "resolve_tracking_uri", "mlflow_run", "log_figure",
    "MLflowCallback", "learning_curve_figure", "log_run_config", "log_eval_result", "flatten_params",
    "log_learner_model",
]

quiet_library_logs()
