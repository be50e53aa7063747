"""The pyfunc model of a run, loaded back with mlflow.pyfunc.load_model, predicts what the learner predicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.runs import RunConfig, build_run, save_run_config
from metaopt.tracking import log_learner_model, mlflow_run

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def _train(config: RunConfig, out: Path):
    torch.set_num_threads(1)
    run = build_run(config)
    save_run_config(out, run.config)
    trainer = run.trainer(out, progress=False)
    trainer.fit()
    trainer.use_best()
    return run


def _as_input(task) -> dict[str, np.ndarray]:
    return {"support_x": task.support_x.numpy(), "support_y": task.support_y.numpy(), "query_x": task.query_x.numpy()}


def test_sinusoid_model_round_trip_and_registry(tracking_uri, experiment, tmp_path):
    import mlflow
    import pandas as pd

    run = _train(RunConfig("maml", "sinusoid", shots=5, queries=7,
                           train={"iterations": 4, "meta_batch": 2, "val_every": 2, "val_tasks": 3}), tmp_path / "r")
    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri) as active:
        uri = log_learner_model(tmp_path / "r", registered_name=f"{experiment}-model")
    model = mlflow.pyfunc.load_model(uri)
    tasks = run.sources["test"].fixed_tasks(3, 2)
    for task in tasks:
        expected = run.learner.predict(task).detach().numpy()
        np.testing.assert_allclose(model.predict(_as_input(task)), expected, rtol=1e-5, atol=1e-6)
    # Adaptation matters: two different support sets give different predictions for the same queries.
    other = {**_as_input(tasks[1]), "query_x": tasks[0].query_x.numpy()}
    assert not np.allclose(model.predict(other), model.predict(_as_input(tasks[0])))
    # The DataFrame form: one row per example, a `set` column, `y`, and the input columns.
    task = tasks[0]
    support = zip(task.support_x[:, 0], task.support_y[:, 0])
    rows = [{"set": "support", "y": float(y), "x": float(x)} for x, y in support]
    rows += [{"set": "query", "y": 0.0, "x": float(x)} for x in task.query_x[:, 0]]
    np.testing.assert_allclose(model.predict(pd.DataFrame(rows)), model.predict(_as_input(task)), rtol=1e-6)
    versions = mlflow.MlflowClient().search_model_versions(f"name='{experiment}-model'")
    assert len(versions) == 1 and versions[0].run_id == active.info.run_id
    assert mlflow.MlflowClient().get_run(active.info.run_id).info.status == "FINISHED"
    with pytest.raises(ConfigError, match="support_y"):
        model.predict({"support_x": task.support_x.numpy(), "query_x": task.query_x.numpy()})


@pytest.mark.skipif(not FMNIST.is_dir(), reason="Debian dataset-fashion-mnist not installed")
@pytest.mark.parametrize("algorithm", ["anil", "protonet"])  # adapts a head; metric-based (no inner loop)
def test_classification_model_predicts_like_the_learner(tracking_uri, experiment, tmp_path, algorithm):
    import mlflow

    run = _train(RunConfig(algorithm, "fashion-mnist", ways=3, shots=1, queries=2,
                           train={"iterations": 2, "meta_batch": 1, "val_every": 2, "val_tasks": 2}), tmp_path / "c")
    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri):
        uri = log_learner_model(tmp_path / "c")
    model = mlflow.pyfunc.load_model(uri)
    task = run.sources["test"].fixed_tasks(1, 2)[0]
    expected = run.learner.predict(task).detach().numpy()
    got = model.predict(_as_input(task))
    assert got.shape == (6, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    flat = {**_as_input(task), "support_x": task.support_x.numpy().reshape(3, -1)}
    np.testing.assert_allclose(model.predict(flat), got, rtol=1e-4, atol=1e-5)
    with pytest.raises(ConfigError, match="class ids 0..2"):
        model.predict({**_as_input(task), "support_y": np.array([0, 1, 5])})
