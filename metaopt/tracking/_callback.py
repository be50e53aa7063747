"""The trainer callback that logs meta-training to the active MLflow run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from metaopt._imports import require
from metaopt.callbacks import Callback
from metaopt.tracking._logging import active_run_id, log_metrics

if TYPE_CHECKING:
    from metaopt.evaluation import EvalResult
    from metaopt.trainer import MetaTrainer, TrainResult

__all__ = ["MLflowCallback", "learning_curve_figure"]


class MLflowCallback(Callback):
    """Log training to an MLflow run (the active one when training begins, or ``run_id``).

    - every ``log_every`` iterations: the mean of each training metric (``meta_loss``, ...) over the
      iterations since the last log, at ``step=iteration`` (the mean, because one meta-batch is noisy);
    - at each validation: ``val_<metric>`` (``val_accuracy`` or ``val_mse``) and ``val_ci95``;
    - at the end: ``best_val_<metric>``, ``best_iteration``, ``iterations_run`` and the artifact
      ``learning_curve.png`` (training loss and validation metric with its 95% CI band).

    The run and its tracking URI are captured at ``on_train_begin``, so metrics land in the right run
    even if another run becomes active (or the global URI changes) meanwhile. The callback never opens
    or ends runs: use ``mlflow_run`` for that.
    """

    def __init__(self, log_every: int = 10, *, run_id: str | None = None, plot: bool = True) -> None:
        if log_every < 1:
            raise ValueError(f"log_every must be a positive integer, got {log_every}")
        self.log_every = log_every
        self.plot = plot
        self._given_run_id = run_id
        self.run_id: str | None = None
        self.tracking_uri: str | None = None
        self._client: Any = None
        self._window: dict[str, list[float]] = {}
        self.train_curve: list[tuple[int, dict[str, float]]] = []

    def on_train_begin(self, trainer: MetaTrainer) -> None:
        mlflow = require("mlflow", "mlflow")
        self.run_id = active_run_id(self._given_run_id)
        self.tracking_uri = mlflow.get_tracking_uri()
        self._client = mlflow.MlflowClient(self.tracking_uri)
        self._window = {}
        # A tag, not a param: a resumed run may continue on the other engine.
        self._client.set_tag(self.run_id, "metaopt.engine", getattr(trainer, "engine", "none"))
        self._client.set_tag(self.run_id, "metaopt.inner_checkpoint", str(getattr(trainer, "inner_checkpoint", False)))
        self._client.set_tag(self.run_id, "metaopt.compile", str(getattr(trainer, "compile", False)))

    def on_iteration_end(self, trainer: MetaTrainer, iteration: int, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self._window.setdefault(key, []).append(float(value))
        if iteration % self.log_every == 0:
            self._flush(iteration)

    def on_validation_end(self, trainer: MetaTrainer, iteration: int, result: EvalResult) -> None:
        metrics = {f"val_{result.metric}": result.mean, "val_ci95": result.ci95}
        log_metrics(*self._target(), metrics, iteration)

    def on_train_end(self, trainer: MetaTrainer, result: TrainResult) -> None:
        state = result.state
        metric = result.last_validation.metric if result.last_validation else _metric_name(trainer)
        self._flush(state.iteration)
        final: dict[str, float] = {"iterations_run": float(state.iteration)}
        if state.best is not None:
            final[f"best_val_{metric}"] = state.best
            final["best_iteration"] = float(state.best_iteration or 0)
        client, run_id = self._target()
        log_metrics(client, run_id, final, state.iteration)
        if state.stopped_early:
            client.set_tag(run_id, "stopped_early", state.stopped_early)
        if self.plot and (state.history or self.train_curve):
            from metaopt.tracking._runs import log_figure

            figure = learning_curve_figure(self.train_curve, state.history, metric)
            log_figure(figure, "learning_curve.png", run_id=run_id, tracking_uri=self.tracking_uri)

    def _target(self) -> tuple[Any, str]:
        if self.run_id is None:  # a trainer that never called on_train_begin
            self.on_train_begin(None)  # type: ignore[arg-type]
        return self._client, self.run_id  # type: ignore[return-value]

    def _flush(self, iteration: int) -> None:
        if not any(self._window.values()):
            return
        means = {k: sum(v) / len(v) for k, v in self._window.items() if v}
        self._window = {}
        self.train_curve.append((iteration, means))
        log_metrics(*self._target(), means, iteration)


def _metric_name(trainer: MetaTrainer) -> str:
    # As metaopt.evaluation names it; used before any validation result exists.
    return {"classification": "accuracy", "rl": "regret"}.get(trainer.learner.kind, "mse")


def learning_curve_figure(train_curve: list[tuple[int, dict[str, float]]], history: list[dict[str, float]],
                          metric: str) -> Any:
    """Training loss (left) and validation metric with its 95% CI band (right) against iteration."""
    import math

    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.8), layout="constrained")
    loss_ax, val_ax = figure.subplots(1, 2)
    if train_curve:
        loss_ax.plot([it for it, _ in train_curve], [m.get("meta_loss", math.nan) for _, m in train_curve],
                     label="meta-training loss")
    elif history:
        loss_ax.plot([h["iteration"] for h in history], [h["meta_loss"] for h in history], "o-",
                     label="meta-training loss (at validations)")
    loss_ax.set(xlabel="iteration", ylabel="meta-loss", title="training")
    loss_ax.legend(loc="best")
    if history:
        its = [h["iteration"] for h in history]
        vals = [h["val"] for h in history]
        cis = [h["val_ci95"] if math.isfinite(h["val_ci95"]) else 0.0 for h in history]
        val_ax.plot(its, vals, "o-", color="C1", label=f"validation {metric}")
        val_ax.fill_between(its, [v - c for v, c in zip(vals, cis)], [v + c for v, c in zip(vals, cis)],
                            color="C1", alpha=0.25, label="95% CI")
        val_ax.legend(loc="best")
    val_ax.set(xlabel="iteration", ylabel=metric, title="validation")
    return figure
