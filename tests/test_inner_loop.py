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


def test_higher_is_imported_only_by_the_inner_loop_module():
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    offenders = [
        str(p.relative_to(root))
        for folder in ("metaopt", "search_spaces", "prompting")
        for p in (root / folder).rglob("*.py")
        if p.name != "inner_loop.py" and ("import higher" in p.read_text() or "from higher" in p.read_text())
    ]
    assert offenders == []
