"""Siamese Networks: weighted-L1 pair logits, nearest-support classification, balanced verification loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metaopt.algorithms import build_config
from metaopt.algorithms.siamese import SiameseNet, nearest_support_scores
from metaopt.models import MLP
from metaopt.tasks.base import Task


class _Identity(nn.Identity):
    feature_dim = 2


def _learner(weights=(-1.0, -1.0)) -> SiameseNet:
    learner = SiameseNet(_Identity(), build_config("siamese"), "classification")
    with torch.no_grad():
        learner.distance.weight.copy_(torch.tensor([weights]))
        learner.distance.bias.zero_()
    return learner


def _task() -> Task:
    support_x = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [9.0, 9.0]])
    query_x = torch.tensor([[1.0, 1.0], [8.0, 8.0], [0.0, 7.0]])
    return Task(support_x, torch.tensor([0, 1, 2, 0]), query_x, torch.tensor([0, 0, 2]), "classification", 3)


def test_pair_logits_are_weighted_l1_distances():
    learner = _learner((-1.0, -2.0))
    logits = learner.pair_logits(torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 0.0], [4.0, 3.0]]))
    torch.testing.assert_close(logits, torch.tensor([[-3.0, -7.0]]))


def test_each_query_takes_the_class_of_its_nearest_support():
    learner = _learner()
    scores = learner.predict(_task())
    # (8,8) is nearest to the class-0 support (9,9), though class 0's other support is far away.
    assert scores.argmax(-1).tolist() == [0, 0, 2]
    torch.testing.assert_close(scores[0], torch.tensor([-2.0, -10.0, -10.0]))
    assert learner.score(_task()) == pytest.approx(1.0)


def test_nearest_support_scores_take_the_best_pair_per_class():
    logits = torch.tensor([[0.1, 0.9, 0.3, 0.2]])
    torch.testing.assert_close(nearest_support_scores(logits, torch.tensor([0, 1, 0, 1]), 2),
                               torch.tensor([[0.3, 0.9]]))


def test_verification_loss_weighs_same_and_different_pairs_equally():
    learner = _learner()
    task = _task()
    with torch.no_grad():
        logits = learner.pair_logits(task.query_x, task.support_x)
    same = (task.query_y.unsqueeze(1) == task.support_y.unsqueeze(0)).float()
    bce = nn.functional.binary_cross_entropy_with_logits(logits, same, reduction="none")
    n_same, n_diff = same.sum(), (1 - same).sum()
    expected = ((bce * same).sum() * n_diff / n_same + (bce * (1 - same)).sum()) / same.numel()
    assert float(learner.meta_loss(task, 0).detach()) == pytest.approx(float(expected), rel=1e-5)


def test_gradients_reach_the_twin_and_the_distance_head():
    torch.manual_seed(0)
    learner = SiameseNet(MLP(2, (5,), head=False), build_config("siamese"), "classification")
    learner.meta_loss(_task(), 0).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.parameters())
