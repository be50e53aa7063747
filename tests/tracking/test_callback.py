"""MLflowCallback logs windowed training metrics, validations and a learning curve to the active run."""

from __future__ import annotations

import pytest
import torch

from metaopt.callbacks import Callback
from metaopt.runs import RunConfig, build_run
from metaopt.tracking import MLflowCallback, learning_curve_figure, mlflow_run


class _Recorder(Callback):
    def __init__(self) -> None:
        self.losses: dict[int, float] = {}

    def on_iteration_end(self, trainer, iteration, metrics) -> None:
        self.losses[iteration] = metrics["meta_loss"]


def test_callback_logs_to_the_active_run(tracking_uri, experiment, tmp_path):
    import mlflow

    torch.set_num_threads(1)
    run = build_run(RunConfig("fomaml", "sinusoid", shots=5, queries=5,
                              train={"iterations": 7, "meta_batch": 2, "val_every": 5, "val_tasks": 4}))
    recorder = _Recorder()
    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri) as active:
        trainer = run.trainer(tmp_path, callbacks=[recorder, MLflowCallback(log_every=3)], progress=False)
        trainer.fit()
    client = mlflow.MlflowClient()
    rid = active.info.run_id
    history = client.get_metric_history(rid, "meta_loss")
    assert [m.step for m in history] == [3, 6, 7]  # every 3 iterations, plus the tail at the end
    windows = [(1, 2, 3), (4, 5, 6), (7,)]
    for metric, window in zip(history, windows):
        assert metric.value == pytest.approx(sum(recorder.losses[i] for i in window) / len(window))
    val = client.get_metric_history(rid, "val_mse")
    assert [m.step for m in val] == [5, 7]
    assert [m.value for m in val] == pytest.approx([h["val"] for h in trainer.state.history])
    assert [m.step for m in client.get_metric_history(rid, "val_ci95")] == [5, 7]
    metrics = client.get_run(rid).data.metrics
    assert metrics["iterations_run"] == 7 and metrics["best_val_mse"] == pytest.approx(trainer.state.best)
    assert "learning_curve.png" in [a.path for a in client.list_artifacts(rid)]
    assert client.get_run(rid).info.status == "FINISHED"
    # How the run was computed is a tag (a resumed run may change it), not a param.
    tags = client.get_run(rid).data.tags
    assert (tags["metaopt.engine"], tags["metaopt.inner_checkpoint"], tags["metaopt.compile"]) == \
        ("batched", "False", "False")


def test_callback_without_active_run_fails_before_training(tracking_uri, tmp_path):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    run = build_run(RunConfig("fomaml", "sinusoid", shots=5, train={"iterations": 2, "meta_batch": 1}))
    trainer = run.trainer(None, callbacks=[MLflowCallback()], progress=False)
    with pytest.raises(RuntimeError, match="no active MLflow run"):
        trainer.fit()
    assert trainer.state.iteration == 0


def test_bad_log_every_is_refused():
    with pytest.raises(ValueError, match="log_every"):
        MLflowCallback(log_every=0)


def test_learning_curve_figure_draws_loss_and_ci_band():
    history = [{"iteration": 5, "meta_loss": 2.0, "val": 0.4, "val_ci95": 0.1},
               {"iteration": 10, "meta_loss": 1.0, "val": 0.6, "val_ci95": float("nan")}]
    figure = learning_curve_figure([(5, {"meta_loss": 2.0}), (10, {"meta_loss": 1.0})], history, "accuracy")
    loss_ax, val_ax = figure.axes
    assert list(loss_ax.lines[0].get_ydata()) == [2.0, 1.0]
    assert list(val_ax.lines[0].get_ydata()) == [0.4, 0.6]
    assert len(val_ax.collections) == 1  # the CI band
