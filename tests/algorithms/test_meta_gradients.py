"""Meta-gradients against references: a hand-unrolled autograd loop and the functional twins."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from metaopt.algorithms import build_config, get_learner, maml_update
from metaopt.algorithms.metacurvature import curvature_transform
from metaopt.models import MLP, Conv4
from metaopt.tasks.base import Task

LR, STEPS = 0.05, 2


def _task(seed: int = 0) -> Task:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(20, 1, generator=g, dtype=torch.float64) * 10 - 5
    y = 2.0 * torch.sin(x - 0.5)
    return Task(x[:10], y[:10], x[10:], y[10:], kind="regression")


def _learner(name: str, **config):
    torch.manual_seed(0)
    model = MLP(1, (16, 16), 1).double()
    cls = get_learner(name)
    return cls(model, build_config(name, {"inner_lr": LR, "inner_steps": STEPS, **config}), "regression").double()


def _hand_unrolled(model: torch.nn.Module, task: Task, first_order: bool) -> list[torch.Tensor]:
    names = [n for n, _ in model.named_parameters()]
    params = list(model.parameters())
    fast = params
    for _ in range(STEPS):
        loss = F.mse_loss(functional_call(model, dict(zip(names, fast)), (task.support_x,)), task.support_y)
        grads = torch.autograd.grad(loss, fast, create_graph=not first_order)
        fast = [p - LR * g for p, g in zip(fast, grads)]
    query = F.mse_loss(functional_call(model, dict(zip(names, fast)), (task.query_x,)), task.query_y)
    return list(torch.autograd.grad(query, params))


def _meta_grads(learner) -> list[torch.Tensor]:
    learner.zero_grad()
    learner.meta_loss(_task(), iteration=0).backward()
    return [p.grad.clone() for p in learner.model.parameters()]


def test_maml_meta_gradient_equals_hand_unrolled_second_order():
    learner = _learner("maml")
    reference = _hand_unrolled(learner.model, _task(), first_order=False)
    for ours, ref in zip(_meta_grads(learner), reference, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)


def test_fomaml_differs_from_second_order_and_equals_first_order_reference():
    learner = _learner("fomaml")
    second = _hand_unrolled(learner.model, _task(), first_order=False)
    first = _hand_unrolled(learner.model, _task(), first_order=True)
    ours = _meta_grads(learner)
    assert max(float((a - b).abs().max()) for a, b in zip(ours, second)) > 1e-6
    for a, b in zip(ours, first, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_maml_update_twin_matches_the_higher_path():
    learner = _learner("maml")
    task = _task()
    result = learner.adapt(task.support_x, task.support_y, STEPS, differentiable=False)
    params = [p.detach() for p in learner.model.parameters()]
    for _ in range(STEPS):
        params = [p.requires_grad_() for p in params]
        names = [n for n, _ in learner.model.named_parameters()]
        loss = F.mse_loss(functional_call(learner.model, dict(zip(names, params)), (task.support_x,)), task.support_y)
        params = [p.detach() for p in maml_update(params, torch.autograd.grad(loss, params), LR)]
    for ours, twin in zip(result.module.parameters(), params, strict=True):
        torch.testing.assert_close(ours.detach(), twin)


@pytest.mark.parametrize("name,attr", [("metasgd", "rates"), ("mamlpp", "lslr")])
def test_learned_inner_rates_receive_nonzero_gradients(name, attr):
    learner = _learner(name)
    _meta_grads(learner)
    rates = list(getattr(learner, attr))
    assert rates and all(r.grad is not None and float(r.grad.abs().sum()) > 0 for r in rates)


def test_mamlpp_per_step_rates_each_get_gradient_and_norm_rows_are_meta_learned():
    torch.manual_seed(0)
    config = build_config("mamlpp", {"inner_steps": 3, "inner_lr": 0.05, "first_order_fraction": 0.0})
    model = Conv4(1, 3, image_size=16, hidden=8, **get_learner("mamlpp").model_options(config))
    learner = get_learner("mamlpp")(model, config, "classification")
    learner.begin_training(100)
    g = torch.Generator().manual_seed(0)
    task = Task(torch.rand(6, 1, 16, 16, generator=g), torch.tensor([0, 1, 2] * 2),
                torch.rand(9, 1, 16, 16, generator=g), torch.tensor([0, 1, 2] * 3), "classification", 3)
    learner.meta_loss(task, iteration=50).backward()
    for rates in learner.lslr:
        assert bool((rates.grad != 0).all()), rates.grad
    norm = learner.model.features.blocks[0].norm
    assert norm.weight.shape[0] == 4 and bool((norm.weight.grad[:4].abs().sum(1) > 0).all())


def test_metacurvature_starts_as_maml_and_learns_its_matrices():
    mc, maml = _learner("metacurvature"), _learner("maml")
    for a, b in zip(_meta_grads(mc), _meta_grads(maml), strict=True):
        torch.testing.assert_close(a, b)
    assert all(float(m.grad.abs().sum()) > 0 for mats in mc.curvature for m in mats)


def test_curvature_transform_is_a_mode_product():
    g = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    mo, mi, mf = (torch.randn(n, n, dtype=torch.float64) for n in (4, 3, 4))
    expected = torch.einsum("oa,ib,fc,abc->oif", mo, mi, mf, g.reshape(4, 3, 4)).reshape(4, 3, 2, 2)
    torch.testing.assert_close(curvature_transform(g, [mo, mi, mf]), expected)


def test_anil_adapts_only_the_head_but_body_gets_meta_gradient():
    learner = _learner("anil")
    task = _task()
    body = [p.detach().clone() for p in learner.model.features.parameters()]
    result = learner.adapt(learner.embed(task.support_x), task.support_y, STEPS, differentiable=True)
    head_before = [p.detach() for p in learner.model.head.parameters()]
    assert any(not torch.equal(a.detach(), b) for a, b in zip(result.module.parameters(), head_before))
    grads = _meta_grads(learner)
    assert all(float(g.abs().sum()) > 0 for g in grads)
    assert all(torch.equal(a, b) for a, b in zip(body, learner.model.features.parameters()))
