"""Meta Networks: per-example meta information, layer augmentation, and the memory read."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms import MetaNet, build_config
from metaopt.algorithms.metanet import augmented, per_example_linear_grads
from metaopt.errors import ConfigError
from metaopt.models import MLP, Conv4
from metaopt.tasks.base import Task


def test_per_example_grads_equal_autograd_one_example_at_a_time():
    torch.manual_seed(0)
    layer = nn.Linear(4, 3)
    x, y = torch.randn(5, 4), torch.tensor([0, 2, 1, 1, 0])
    out = layer(x)
    (delta,) = torch.autograd.grad(F.cross_entropy(out, y, reduction="sum"), out)
    batched = per_example_linear_grads(delta, x)
    for i in range(5):
        (expected,) = torch.autograd.grad(F.cross_entropy(layer(x[i:i + 1]), y[i:i + 1]), layer.weight)
        torch.testing.assert_close(batched[i], expected)


def test_layer_augmentation_sums_slow_and_fast_outputs_each_through_relu():
    torch.manual_seed(0)
    slow, x, fast = nn.Linear(3, 2), torch.randn(4, 3), torch.randn(2, 3)
    torch.testing.assert_close(augmented(x, slow, fast, relu=True), F.relu(slow(x)) + F.relu(x @ fast.T))
    per_row = fast.expand(4, 2, 3)
    torch.testing.assert_close(augmented(x, slow, per_row, relu=False), slow(x) + x @ fast.T)


def _task(support_y):
    g = torch.Generator().manual_seed(1)
    support = torch.randn(len(support_y), 1, 16, 16, generator=g)
    return Task(support, torch.tensor(support_y), support[:3].clone(), torch.tensor(support_y[:3]),
                "classification", 3)


def test_predictions_come_from_the_support_labels_through_fast_weights():
    torch.manual_seed(0)
    learner = MetaNet(Conv4(1, 3, image_size=16, hidden=8), build_config("metanet"), "classification")
    a = learner.predict(_task([0, 1, 2, 0, 1, 2]))
    b = learner.predict(_task([2, 0, 1, 2, 0, 1]))  # same images, relabelled support
    assert a.shape == (3, 3) and not torch.allclose(a, b)
    # ... and the generators receive meta-gradients from the query loss.
    learner.meta_loss(_task([0, 1, 2, 0, 1, 2]), 0).backward()
    for module in (learner.g, learner.d, learner.represent):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_task_level_fast_weight_depends_on_the_support_set():
    """The representation's meta information is a gradient at u's slow weight: it differs between support sets.
    (Taken at a zero fast weight behind a ReLU, it was identically zero, so d saw the same input on every task.)"""
    torch.manual_seed(0)
    learner = MetaNet(MLP(4, (8,), 3), build_config("metanet"), "classification")
    feats = learner.model.features(torch.randn(6, 4, generator=torch.Generator().manual_seed(1)))
    one = learner._representation_fast_weight(feats, torch.tensor([0, 1, 2, 0, 1, 2]))
    other = learner._representation_fast_weight(feats, torch.tensor([0, 0, 1, 1, 2, 2]))
    assert not torch.allclose(one, other)


def test_second_order_keeps_the_graph_through_the_meta_information():
    torch.manual_seed(0)
    first = MetaNet(MLP(4, (8,), 2), build_config("metanet"), "classification")
    torch.manual_seed(0)
    second = MetaNet(MLP(4, (8,), 2), build_config("metanet", {"second_order": True}), "classification")
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    task = Task(x[:4], torch.tensor([0, 1, 0, 1]), x[4:], torch.tensor([0, 1]), "classification", 2)
    g1 = torch.autograd.grad(first.meta_loss(task, 0), first.base_out.weight)[0]
    g2 = torch.autograd.grad(second.meta_loss(task, 0), second.base_out.weight)[0]
    assert not torch.allclose(g1, g2)  # the extra term through the support gradients is there


def test_refuses_models_without_an_encoder_and_other_ways():
    with pytest.raises(ConfigError, match="features"):
        MetaNet(nn.Linear(3, 2), build_config("metanet"), "classification")
    learner = MetaNet(Conv4(1, 2, image_size=16, hidden=8), build_config("metanet"), "classification")
    with pytest.raises(ConfigError, match="2-way"):
        learner.predict(_task([0, 1, 2]))
    with pytest.raises(ConfigError, match="hidden"):
        build_config("metanet", {"hidden": 0})
