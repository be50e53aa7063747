"""Against a real `mlflow server` over HTTP: a tracked `metaopt train`, its registered model, run statuses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metaopt.cli import main
from metaopt.tracking import mlflow_run

pytestmark = pytest.mark.slow


def _train(args: list[str], capsys) -> dict:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_tracked_train_over_http(mlflow_server, tmp_path, capsys):
    import mlflow

    out = tmp_path / "run"
    args = ["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5", "--iterations", "12",
            "--meta-batch", "2", "--val-every", "6", "--val-tasks", "4", "--test-tasks", "8", "--inner-lr", "0.02",
            "--out", str(out), "--no-progress", "--json", "--tracking-uri", mlflow_server,
            "--experiment", "http-train", "--register-model", "http-sinusoid"]
    summary = _train(args, capsys)
    client = mlflow.MlflowClient(mlflow_server)
    run = client.get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "http-train"
    assert run.data.params["learner.inner_lr"] == "0.02" and run.data.params["train.iterations"] == "12"
    assert run.data.tags["algorithm"] == "maml" and run.data.tags["mlflow.runName"] == "run"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "meta_loss")] == [10, 12]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_mse")] == [6, 12]
    assert run.data.metrics["test_mse"] == pytest.approx(summary["mean"])
    assert run.data.metrics["test_ci95"] == pytest.approx(summary["ci95"]) and run.data.metrics["test_tasks"] == 8
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.json", "learning_curve.png", "results.json"} <= artifacts
    results = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/results.json")
    assert results["mean"] == pytest.approx(summary["mean"])

    # The registered model, loaded over HTTP, adapts exactly as the saved run does.
    from metaopt.runs import load_run

    version = client.search_model_versions("name='http-sinusoid'")[0]
    assert version.run_id == run.info.run_id
    model = mlflow.pyfunc.load_model("models:/http-sinusoid/1")
    saved = load_run(out)
    task = saved.sources["test"].fixed_tasks(1, 2)[0]
    got = model.predict({"support_x": task.support_x.numpy(), "support_y": task.support_y.numpy(),
                         "query_x": task.query_x.numpy()})
    np.testing.assert_allclose(got, saved.learner.predict(task).detach().numpy(), rtol=1e-5, atol=1e-6)

    # Re-running resumes the same MLflow run instead of starting another one.
    again = _train(args, capsys)
    assert again["resumed"] and again["mlflow_run_id"] == run.info.run_id
    assert client.get_run(run.info.run_id).info.status == "FINISHED"
    assert len(client.search_runs([run.info.experiment_id])) == 1


@pytest.mark.parametrize("error,status", [(RuntimeError, "FAILED"), (KeyboardInterrupt, "KILLED")])
def test_run_status_over_http(mlflow_server, error, status):
    import mlflow

    with pytest.raises(error), mlflow_run(experiment="http-status", tracking_uri=mlflow_server) as run:
        mlflow.log_metric("x", 1.0)
        raise error("boom")
    assert mlflow.MlflowClient(mlflow_server).get_run(run.info.run_id).info.status == status
