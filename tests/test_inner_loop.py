"""The higher door against torch.optim: each differentiable optimiser takes the same steps."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from metaopt.errors import ConfigError
from metaopt.inner_loop import InnerLoop
from metaopt.models import MLP


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 1, generator=g), torch.randn(16, 1, generator=g)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_inner_optimisers_match_torch_optim(optimizer):
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    x, y = _data()
    reference = copy.deepcopy(model)
    lr = 0.05
    if optimizer == "adam":
        opt = torch.optim.Adam(reference.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(reference.parameters(), lr=lr, momentum=0.9 if optimizer == "momentum" else 0.0)
    for _ in range(4):
        opt.zero_grad()
        F.mse_loss(reference(x), y).backward()
        opt.step()
    result = InnerLoop(model, optimizer=optimizer).adapt(lambda f, s: F.mse_loss(f(x), y), 4, lr,
                                                          differentiable=False)
    for ours, ref in zip(result.module.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-5, atol=1e-6)
    assert len(result.support_losses) == 4 and result.support_losses[-1] < result.support_losses[0]



def test_adam_beta1_zero_matches_torch_optim():
    # Nichol et al.'s Reptile runs the inner Adam with beta1 = 0; steps after the first depend on it.
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    x, y = _data()
    reference = copy.deepcopy(model)
    opt = torch.optim.Adam(reference.parameters(), lr=0.05, betas=(0.0, 0.999))
    for _ in range(4):
        opt.zero_grad()
        F.mse_loss(reference(x), y).backward()
        opt.step()
    result = InnerLoop(model, optimizer="adam", betas=(0.0, 0.999)).adapt(
        lambda f, s: F.mse_loss(f(x), y), 4, 0.05, differentiable=False)
    default = InnerLoop(model, optimizer="adam").adapt(lambda f, s: F.mse_loss(f(x), y), 4, 0.05,
                                                        differentiable=False)
    for ours, ref in zip(result.module.parameters(), reference.parameters()):
        torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(a, b) for a, b in zip(result.module.parameters(), default.module.parameters()))

def test_learnable_rate_gets_gradient_through_override():
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    x, y = _data()
    rate = torch.tensor(0.05, requires_grad=True)
    result = InnerLoop(model).adapt(lambda f, s: F.mse_loss(f(x), y), 2, lambda step: rate)
    F.mse_loss(result.module(x), y).backward()
    assert rate.grad is not None and float(rate.grad) != 0.0


def test_wrong_number_of_rates_is_a_clear_error():
    model = MLP(1, (8,), 1)
    x, y = _data()
    with pytest.raises(ConfigError, match="2 inner learning rates for 4 adapted tensors"):
        InnerLoop(model).adapt(lambda f, s: F.mse_loss(f(x), y), 1, lambda step: [0.1, 0.1])


def test_unknown_inner_optimizer_is_rejected():
    with pytest.raises(ConfigError, match="lbfgs"):
        InnerLoop(MLP(), optimizer="lbfgs")  # type: ignore[arg-type]


def test_higher_is_imported_only_by_its_engine():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    offenders = [
        str(p.relative_to(root))
        for folder in ("metaopt", "search_spaces", "prompting")
        for p in (root / folder).rglob("*.py")
        if p.name != "higher_engine.py" and ("import higher" in p.read_text() or "from higher" in p.read_text())
    ]
    assert offenders == []


def _sgd_rule(lr):
    def rule(params, grads, loss, step):
        return [p - lr * g for p, g in zip(params, grads)]

    return rule


@pytest.mark.parametrize("first_order", [False, True])
def test_update_rule_matches_the_optimiser_path_and_its_meta_gradient(first_order):
    # An update rule that is plain SGD must give MAML's (or FOMAML's) adapted weights and meta-gradient.
    x, y = _data()
    grads = []
    for rule in (None, _sgd_rule(0.1)):
        torch.manual_seed(0)
        model = MLP(1, (8,), 1)
        result = InnerLoop(model).adapt(lambda f, s: F.mse_loss(f(x), y), 3, 0.1, first_order=first_order,
                                        update_rule=rule)
        F.mse_loss(result.module(x), y).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        assert len(result.support_losses) == 3
    for ours, ref in zip(*grads, strict=True):
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_update_rule_sees_detached_inputs_when_first_order_and_gets_meta_gradients():
    x, y = _data()
    scale = torch.tensor(0.1, requires_grad=True)
    seen = []

    def rule(params, grads, loss, step):
        seen.append((loss.requires_grad, [g.requires_grad for g in grads]))
        return [p - scale * g for p, g in zip(params, grads)]

    model = MLP(1, (8,), 1)
    result = InnerLoop(model).adapt(lambda f, s: F.mse_loss(f(x), y), 2, 0.0, first_order=True, update_rule=rule)
    F.mse_loss(result.module(x), y).backward()
    assert seen == [(False, [False] * 4)] * 2
    assert scale.grad is not None and float(scale.grad) != 0.0


def test_update_rule_adapts_only_the_chosen_params_and_checks_its_output():
    x, y = _data()
    model = MLP(1, (8,), 1)
    head = list(model.head.parameters())
    loop = InnerLoop(model, params=head)
    result = loop.adapt(lambda f, s: F.mse_loss(f(x), y), 1, 0.0, differentiable=False, update_rule=_sgd_rule(0.5))
    after = list(result.module.parameters())
    for before, now in zip(model.parameters(), after):
        changed = not torch.equal(before.detach(), now.detach())
        assert changed == any(before is h for h in head)
    with pytest.raises(ConfigError, match="update rule returned 1 tensors for 2"):
        loop.adapt(lambda f, s: F.mse_loss(f(x), y), 1, 0.0, update_rule=lambda p, g, loss, s: p[:1])


def test_momentum_and_weight_decay_overrides_match_torch_sgd():
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    x, y = _data()
    reference = copy.deepcopy(model)
    opt = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.8, weight_decay=0.01)
    for _ in range(4):
        opt.zero_grad()
        F.mse_loss(reference(x), y).backward()
        opt.step()
    result = InnerLoop(model).adapt(lambda f, s: F.mse_loss(f(x), y), 4, 0.05, differentiable=False,
                                    overrides=lambda step: {"momentum": 0.8, "weight_decay": 0.01})
    for ours, ref in zip(result.module.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(ours.detach(), ref.detach(), rtol=1e-5, atol=1e-6)


def test_session_truncation_cuts_the_hypergradient_path():
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    x, y = _data()
    early, late = torch.tensor(0.05, requires_grad=True), torch.tensor(0.05, requires_grad=True)
    session = InnerLoop(model, optimizer="momentum").start()
    session.step(F.mse_loss(session.module(x), y), early, {"momentum": 0.5})
    session.truncate()
    session.step(F.mse_loss(session.module(x), y), late, {"momentum": 0.5})
    grads = torch.autograd.grad(F.mse_loss(session.module(x), y), [early, late], allow_unused=True)
    assert grads[0] is None and grads[1] is not None and float(grads[1]) != 0.0
    assert all(p.grad is None for p in model.parameters())  # the initial weights are cut off too
