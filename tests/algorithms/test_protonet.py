"""ProtoNets: logits against hand-computed prototypes, the cosine option, classification only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metaopt.algorithms import build_config
from metaopt.algorithms.metric import class_means, class_sums
from metaopt.algorithms.protonet import ProtoNet
from metaopt.errors import ConfigError
from metaopt.tasks.base import Task


def _task() -> Task:
    support_x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
    support_y = torch.tensor([0, 0, 1, 2])
    query_x = torch.tensor([[1.0, 0.0], [0.0, 3.0], [5.0, 5.0]])
    return Task(support_x, support_y, query_x, torch.tensor([0, 1, 2]), "classification", 3)


def test_logits_are_negative_squared_distances_to_class_means():
    learner = ProtoNet(nn.Identity(), build_config("protonet"), "classification")
    prototypes = [(1.0, 0.0), (0.0, 4.0), (1.0, 1.0)]  # class 0 is the mean of (0,0) and (2,0)
    queries = [(1.0, 0.0), (0.0, 3.0), (5.0, 5.0)]
    expected = torch.tensor(
        [[-((qx - px) ** 2 + (qy - py) ** 2) for px, py in prototypes] for qx, qy in queries]
    )
    torch.testing.assert_close(learner.predict(_task()), expected)
    assert learner.score(_task()) == pytest.approx(2 / 3)  # (5,5) is nearest to class 1's (0,4)


def test_cosine_distance_scales_cosine_similarity():
    learner = ProtoNet(nn.Identity(), build_config("protonet", {"distance": "cosine", "cosine_scale": 2.0}),
                       "classification")
    logits = learner.predict(_task())
    assert logits[0, 0] == pytest.approx(2.0)  # (1,0) is parallel to prototype (1,0)
    assert logits[0, 1] == pytest.approx(0.0)  # and orthogonal to (0,4)
    assert logits[2, 2] == pytest.approx(2.0)  # (5,5) is parallel to (1,1), whatever its length


def test_class_helpers_sum_and_average_each_class():
    x = torch.arange(8.0).view(4, 2)
    y = torch.tensor([1, 0, 1, 1])
    torch.testing.assert_close(class_sums(x, y, 2), torch.tensor([[2.0, 3.0], [10.0, 13.0]]))
    torch.testing.assert_close(class_means(x, y, 2), torch.tensor([[2.0, 3.0], [10.0 / 3, 13.0 / 3]]))
    # Label-ordered blocks (Task.shots): the reshape path gives the scatter path's means and gradients.
    torch.manual_seed(0)
    z = torch.randn(12, 3, requires_grad=True)
    labels = torch.arange(4).repeat_interleave(3)
    weights = torch.randn(4, 3)
    fast, general = class_means(z, labels, 4, shots=3), class_means(z, labels, 4)
    torch.testing.assert_close(fast, general)
    grads = [torch.autograd.grad((m * weights).sum(), z)[0] for m in (fast, general)]
    torch.testing.assert_close(grads[0], grads[1])
    torch.testing.assert_close(class_means(z, labels, 4, shots=5), general)  # shape disagrees: the general path


def test_gradients_reach_the_embedding():
    torch.manual_seed(0)
    learner = ProtoNet(nn.Linear(2, 3), build_config("protonet"), "classification")
    learner.meta_loss(_task(), 0).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.parameters())


def test_refuses_regression_and_bad_options():
    with pytest.raises(ConfigError, match="regression"):
        ProtoNet(nn.Identity(), build_config("protonet"), "regression")
    with pytest.raises(ConfigError, match="manhattan"):
        build_config("protonet", {"distance": "manhattan"})
    with pytest.raises(ConfigError, match="cosine_scale"):
        build_config("protonet", {"cosine_scale": 0.0})
