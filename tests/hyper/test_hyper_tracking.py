"""Trajectory plots and the meta-training trajectory callback (with a fake trainer)."""

from __future__ import annotations

import types

import pytest
import torch

from metaopt.hyper.hd import HDSGD
from metaopt.hyper.inner import InnerHyperparameters
from metaopt.hyper.tracking import TrajectoryCallback, _metric_name, plot_trajectory


def test_plot_draws_every_hyperparameter_and_the_losses():
    rows = [{"step": float(s), "lr": 0.1 * s, "weight_decay.0": 1e-3, "train_loss": 1 / s, "val_objective": 2 / s}
            for s in range(1, 6)]
    fig = plot_trajectory(rows, "demo")
    top, bottom = fig.axes
    assert {line.get_label() for line in top.lines} == {"lr", "weight_decay.0"}
    assert {line.get_label() for line in bottom.lines} == {"train_loss", "val_objective"}
    assert top.get_yscale() == "log"
    assert _metric_name("lr") == "hp/lr" and _metric_name("train_loss") == "train_loss"


def test_callback_records_outer_lr_and_inner_hyperparameters():
    w = torch.nn.Parameter(torch.zeros(2))
    learner = torch.nn.Module()
    learner.inner_hypers = InnerHyperparameters(2, 3, lr=0.1)
    trainer = types.SimpleNamespace(optimizer=HDSGD([w], 0.2), learner=learner)
    callback = TrajectoryCallback(every=2)
    for it in range(1, 5):
        callback.on_iteration_end(trainer, it, {"meta_loss": 1.0 / it})
    assert [r["step"] for r in callback.rows] == [2.0, 4.0]
    row = callback.rows[0]
    assert row["outer_lr"] == pytest.approx(0.2) and row["meta_loss"] == 0.5
    assert {f"inner.lr.{s}.{t}" for s in range(3) for t in range(2)} <= set(row)
