"""The LSTM meta-learner (Ravi & Larochelle 2017): its update, preprocessing and meta-gradients."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from metaopt.algorithms import MetaLSTM, build_config, maml_update
from metaopt.algorithms.metalstm import MetaLSTMRule, metalstm_update, preprocess
from metaopt.errors import ConfigError
from metaopt.inner_loop import InnerLoop
from metaopt.models import MLP, Conv4
from metaopt.tasks.base import Task


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 1, generator=g), torch.randn(16, 1, generator=g)


def test_preprocess_follows_andrychowicz():
    p = 10.0
    x = torch.tensor([2.0, -3.0, 1e-6, -1e-7])
    out = preprocess(x, p)
    torch.testing.assert_close(out[0], torch.tensor([math.log(2.0) / p, 1.0]))
    torch.testing.assert_close(out[1], torch.tensor([math.log(3.0) / p, -1.0]))
    # below e^-p the second feature carries the scaled value itself
    torch.testing.assert_close(out[2], torch.tensor([-1.0, 1e-6 * math.exp(p)]))
    torch.testing.assert_close(out[3], torch.tensor([-1.0, -1e-7 * math.exp(p)]))


def test_functional_update_with_forget_one_and_input_lr_is_sgd():
    params = [torch.randn(3, 2), torch.randn(4)]
    grads = [torch.randn(3, 2), torch.randn(4)]
    ours = metalstm_update(params, grads, [1.0, 1.0], [0.1, 0.1])
    for a, b in zip(ours, maml_update(params, grads, 0.1)):
        torch.testing.assert_close(a, b)


def test_first_update_with_forget_gate_one_and_input_gate_lr_equals_an_sgd_step():
    x, y = _data()
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    reference = copy.deepcopy(model)
    rule = MetaLSTMRule(hidden_size=5)
    with torch.no_grad():
        for layer in (rule.forget, rule.input):
            layer.weight.zero_()
        rule.forget.bias.fill_(40.0)  # sigmoid(40) == 1 in float32
        rule.input.bias.fill_(math.log(0.1 / 0.9))  # sigmoid == 0.1
    result = InnerLoop(model).adapt(lambda f, s: F.mse_loss(f(x), y), 1, 0.0, differentiable=False,
                                    update_rule=rule.start(False))
    opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    F.mse_loss(reference(x), y).backward()
    opt.step()
    for ours, ref in zip(result.module.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-5, atol=1e-6)


def test_untrained_gates_start_at_the_configured_values():
    rule = MetaLSTMRule(hidden_size=4, inner_lr=0.05, forget_init=0.99)
    assert torch.sigmoid(rule.input.bias).item() == pytest.approx(0.05, rel=1e-5)
    assert torch.sigmoid(rule.forget.bias).item() == pytest.approx(0.99, rel=1e-5)


def _task():
    g = torch.Generator().manual_seed(1)
    return Task(torch.rand(4, 1, 16, 16, generator=g), torch.tensor([0, 1, 0, 1]),
                torch.rand(4, 1, 16, 16, generator=g), torch.tensor([0, 1, 0, 1]), "classification", 2)


def test_meta_gradient_reaches_the_lstm_and_the_initial_weights():
    torch.manual_seed(0)
    learner = MetaLSTM(Conv4(1, 2, image_size=16, hidden=8), build_config("metalstm", {"hidden_size": 3}),
                       "classification")
    learner.meta_loss(_task(), 0).backward()
    for name, p in learner.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert learner.rule.input.weight.grad.abs().sum() > 0
    assert learner.rule.lstm.weight_ih.grad.abs().sum() > 0  # through the gates' inputs
    assert learner.model.features.blocks[0].conv.weight.grad.abs().sum() > 0


def test_prediction_is_deterministic_and_builds_no_graph_outside_the_learner():
    torch.manual_seed(0)
    learner = MetaLSTM(Conv4(1, 2, image_size=16, hidden=8), build_config("metalstm", {"inner_steps": 2}),
                       "classification")
    first, second = learner.predict(_task()), learner.predict(_task())
    assert torch.equal(first, second) and not first.requires_grad
    assert all(p.grad is None for p in learner.parameters())


@pytest.mark.parametrize("bad", [{"inner_lr": 1.5}, {"hidden_size": 0}, {"forget_init": 1.0}])
def test_rejects_bad_values(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        build_config("metalstm", bad)
