"""Run configs and evaluation results as MLflow params, metrics and artifacts; runs never left RUNNING."""

from __future__ import annotations

import math

import pytest

from metaopt.evaluation import EvalResult
from metaopt.runs import RunConfig
from metaopt.tracking import flatten_params, log_eval_result, log_run_config, mlflow_run


def test_flatten_params_dots_nested_keys_and_strings_values():
    flat = flatten_params({"algorithm": "maml", "learner": {"inner_lr": 0.5, "opt": {"beta": None}}, "ways": 5})
    assert flat == {"algorithm": "maml", "learner.inner_lr": "0.5", "learner.opt.beta": "None", "ways": "5"}


def test_log_run_config_and_eval_result(tracking_uri, experiment):
    import mlflow

    config = RunConfig("maml", "sinusoid", shots=5, learner={"inner_lr": 0.02}, train={"iterations": 3})
    result = EvalResult("mse", 0.75, 0.125, 40, [0.75] * 40, diverged=2)
    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri) as run:
        log_run_config(config)
        log_eval_result(result, "test")
    client = mlflow.MlflowClient()
    logged = client.get_run(run.info.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params["learner.inner_lr"] == "0.02" and logged.data.params["train.iterations"] == "3"
    assert logged.data.params["algorithm"] == "maml" and logged.data.params["ways"] == "None"
    assert logged.data.metrics == {"test_mse": 0.75, "test_ci95": 0.125, "test_tasks": 40.0, "test_diverged": 2.0}
    config_json = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config.json")
    assert config_json == config.to_dict()


def test_nan_ci_is_logged_not_dropped(tracking_uri, experiment):
    import mlflow

    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri) as run:
        log_eval_result(EvalResult("accuracy", 0.5, math.nan, 1, [0.5]), "val", step=3)
    metrics = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
    assert metrics["val_accuracy"] == 0.5 and math.isnan(metrics["val_ci95"])


def test_logging_without_a_run_raises_and_starts_none(tracking_uri):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    assert mlflow.active_run() is None
    with pytest.raises(RuntimeError, match="no active MLflow run"):
        log_eval_result(EvalResult("mse", 1.0, 0.1, 2, [1.0, 1.0]), "test")
    assert mlflow.active_run() is None


@pytest.mark.parametrize("error,status", [(ValueError, "FAILED"), (KeyboardInterrupt, "KILLED")])
def test_run_that_raises_ends_with_matching_status(tracking_uri, experiment, error, status):
    import mlflow

    with pytest.raises(error), mlflow_run(experiment=experiment, tracking_uri=tracking_uri) as run:
        raise error("stop")
    assert mlflow.active_run() is None
    assert mlflow.MlflowClient().get_run(run.info.run_id).info.status == status


def test_nested_child_shows_its_parent(tracking_uri, experiment):
    import mlflow

    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri) as parent:
        pass
    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri, parent_run_id=parent.info.run_id) as child:
        pass
    tags = mlflow.MlflowClient().get_run(child.info.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.info.run_id
