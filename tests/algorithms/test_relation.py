"""Relation Networks: scores in [0, 1], K shots summed per class, MSE on one-hot targets."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metaopt.algorithms import build_config
from metaopt.algorithms.relation import RelationNet
from metaopt.errors import ConfigError
from metaopt.models import default_model
from metaopt.tasks.base import Task


def _learner() -> RelationNet:
    torch.manual_seed(0)
    config = build_config("relation")
    return RelationNet(default_model((1, 16, 16), 3, **RelationNet.model_options(config)), config, "classification")


def _task(shots: int = 2) -> Task:
    g = torch.Generator().manual_seed(0)
    return Task(torch.rand(3 * shots, 1, 16, 16, generator=g), torch.arange(3).repeat_interleave(shots),
                torch.rand(6, 1, 16, 16, generator=g), torch.tensor([0, 1, 2, 0, 1, 2]), "classification", 3)


def test_scores_are_in_unit_interval_with_one_per_class():
    scores = _learner().predict(_task())
    assert scores.shape == (6, 3)
    assert bool(((scores >= 0) & (scores <= 1)).all())


def test_encoder_keeps_a_map_and_shots_are_summed_per_class():
    learner = _learner()
    assert learner.map_shape == (64, 4, 4)  # 16 -> 8 -> 4: only the first two blocks pool
    task = _task(shots=2)
    # Scores see the sum of a class's two maps, so swapping shots within a class changes nothing.
    swapped = torch.tensor([1, 0, 3, 2, 5, 4])
    same = Task(task.support_x[swapped], task.support_y, task.query_x, task.query_y, "classification", 3)
    torch.testing.assert_close(learner.predict(task), learner.predict(same))


def test_loss_is_mean_squared_error_against_one_hot():
    learner = _learner()
    scores = torch.tensor([[0.9, 0.2], [0.5, 0.5]])
    expected = ((0.9 - 1) ** 2 + 0.2**2 + 0.5**2 + (0.5 - 1) ** 2) / 4
    assert float(learner.loss(scores, torch.tensor([0, 1]))) == pytest.approx(expected)


def test_refuses_vector_models_and_tiny_maps():
    with pytest.raises(ConfigError, match="feature_shape"):
        RelationNet(default_model((4,), 2, head=False), build_config("relation"), "classification")
    with pytest.raises(ConfigError, match="4x4"):
        RelationNet(default_model((1, 8, 8), 2, head=False, pool_blocks=2), build_config("relation"), "classification")
    with pytest.raises(ConfigError, match="hidden"):
        build_config("relation", {"hidden": 0})
    assert isinstance(_learner().relation.fc[-1], nn.Linear)
