"""Hyperparameter trajectories to MLflow: a metric per hyperparameter per step, plus a plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metaopt.callbacks import Callback

__all__ = ["log_trajectory", "plot_trajectory", "TrajectoryCallback", "TRAJECTORY_PLOT"]

TRAJECTORY_PLOT = "hyperparameters.png"
_LOSSES = ("train_loss", "val_objective", "meta_loss", "val")


def plot_trajectory(rows: Sequence[Mapping[str, float]], title: str = "") -> Any:
    """A figure: each hyperparameter against the training step (log scale when positive), losses below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({k for r in rows for k in r} - {"step", *_LOSSES})
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    steps = [r["step"] for r in rows]
    for name in names:
        top.plot(steps, [r.get(name, float("nan")) for r in rows], label=name)
    if rows and all(r[n] > 0 for r in rows for n in names if n in r):
        top.set_yscale("log")
    top.set_ylabel("hyperparameter")
    if len(names) <= 12:
        top.legend(fontsize="small")
    for name in _LOSSES:
        if any(name in r for r in rows):
            bottom.plot([r["step"] for r in rows if name in r], [r[name] for r in rows if name in r], label=name)
    bottom.set_xlabel("step")
    bottom.set_ylabel("loss")
    bottom.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def log_trajectory(rows: Sequence[Mapping[str, float]], *, title: str = "", plot: bool = True) -> None:
    """Log every row's values as MLflow metrics at its ``step`` to the active run, then the plot."""
    from metaopt._imports import require
    from metaopt.tracking import log_figure

    mlflow = require("mlflow", "mlflow")
    for row in rows:
        step = int(row["step"])
        mlflow.log_metrics({_metric_name(k): float(v) for k, v in row.items() if k != "step"}, step=step)
    if plot and rows:
        log_figure(plot_trajectory(rows, title), TRAJECTORY_PLOT)


def _metric_name(name: str) -> str:
    # MLflow metric names allow letters, digits, _ - . / and space; our names use only these.
    return name if name in _LOSSES else f"hp/{name}"


class TrajectoryCallback(Callback):
    """Collects learned hyperparameters during meta-training (inner hyperparameters, HD outer LR).

    ``rows`` holds one dict per iteration: the meta-loss, the outer LR each group steps with, and
    the learner's inner hyperparameters if it has them. Log them afterwards with ``log_trajectory``.
    """

    def __init__(self, every: int = 1) -> None:
        self.every = max(1, every)
        self.rows: list[dict[str, float]] = []

    def on_iteration_end(self, trainer, iteration: int, metrics: dict[str, float]) -> None:
        if iteration % self.every:
            return
        from metaopt.hyper.hd import current_lrs

        row = {"step": float(iteration), "meta_loss": metrics["meta_loss"]}
        lrs = current_lrs(trainer.optimizer)
        row.update({"outer_lr": lrs[0]} if len(lrs) == 1 else {f"outer_lr.{i}": v for i, v in enumerate(lrs)})
        hypers = getattr(trainer.learner, "inner_hypers", None)
        if hypers is not None:
            row.update({f"inner.{k.replace('inner ', '')}": v for k, v in hypers.scalars().items()})
        self.rows.append(row)
