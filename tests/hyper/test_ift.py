"""IFT hypergradients: exact with the exact inverse Hessian, within the Neumann truncation otherwise."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metaopt.errors import ConfigError
from metaopt.hyper.ift import IFTConfig, IFTTuner, decay_penalty, ift_hypergradient
from metaopt.hyper.problems import load_problem


def _ridge():
    g = torch.Generator().manual_seed(0)
    x, xv = torch.randn(30, 3, generator=g, dtype=torch.float64), torch.randn(20, 3, generator=g, dtype=torch.float64)
    w_true = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    y = x @ w_true + 0.3 + 0.5 * torch.randn(30, generator=g, dtype=torch.float64)
    yv = xv @ w_true + 0.3 + 0.5 * torch.randn(20, generator=g, dtype=torch.float64)
    return x, y, xv, yv


def _optimum(x, y, decay):
    """argmin mean((Zθ − y)²) + Σ decay_i/2 ‖θ_i‖² in closed form (θ = [w, b], one decay per tensor)."""
    z = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    d = torch.diag(torch.cat([decay[0].expand(3), decay[1:2]]))
    return torch.linalg.solve(2 / len(x) * z.T @ z + d, 2 / len(x) * z.T @ y)


def _losses(model, x, y, xv, yv, raw):
    params = list(model.parameters())
    train = (model(x).squeeze(-1) - y).pow(2).mean() + decay_penalty(params, raw.exp())
    val = (model(xv).squeeze(-1) - yv).pow(2).mean()
    return train, val


def test_ift_matches_finite_differences_and_neumann_truncation_float64():
    x, y, xv, yv = _ridge()
    raw = torch.log(torch.tensor([0.5, 0.2], dtype=torch.float64)).requires_grad_()

    def val_at_optimum(r):
        theta = _optimum(x, y, r.exp())
        z = torch.cat([xv, torch.ones(len(xv), 1, dtype=xv.dtype)], 1)
        return (z @ theta - yv).pow(2).mean()

    eps = 1e-6
    fd = []
    for i in range(2):
        step = torch.zeros(2, dtype=torch.float64)
        step[i] = eps
        fd.append(float((val_at_optimum(raw.detach() + step) - val_at_optimum(raw.detach() - step)) / (2 * eps)))
    model = nn.Linear(3, 1).double()
    theta = _optimum(x, y, raw.detach().exp())
    with torch.no_grad():
        model.weight.copy_(theta[:3].unsqueeze(0))
        model.bias.copy_(theta[3:])
    params = list(model.parameters())
    # The Hessian's spectrum fixes how fast the series converges: α below 1/λ_max, error (1 − αλ_min)^M.
    train, _ = _losses(model, x, y, xv, yv, raw)
    grad = torch.autograd.grad(train, params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grad])
    hessian = torch.stack([torch.cat([h.reshape(-1) for h in torch.autograd.grad(flat[i], params, retain_graph=True)])
                           for i in range(4)])
    eig = torch.linalg.eigvalsh(hessian)
    alpha = float(0.9 / eig.max())
    contraction = float(1 - alpha * eig.min())
    results = {}
    for terms in (3, 400):
        train, val = _losses(model, x, y, xv, yv, raw)
        results[terms] = ift_hypergradient(train, val, params, [raw], terms, alpha)[0]
    exact = torch.tensor(fd, dtype=torch.float64)
    assert contraction ** 400 < 1e-8
    torch.testing.assert_close(results[400], exact, rtol=1e-5, atol=1e-9)
    # Three terms are visibly truncated, and exactly as the series says: −Jᵀ α Σ_{j≤3} (I − αH)^j v.
    train, val = _losses(model, x, y, xv, yv, raw)
    flat = torch.cat([g.reshape(-1) for g in torch.autograd.grad(train, params, create_graph=True)])
    mixed = torch.stack([torch.autograd.grad(flat[i], raw, retain_graph=True)[0] for i in range(4)])
    v = torch.cat([g.reshape(-1) for g in torch.autograd.grad(val, params)])
    step = torch.eye(4, dtype=torch.float64) - alpha * hessian.detach()
    series = alpha * sum(torch.linalg.matrix_power(step, j) @ v for j in range(4))
    torch.testing.assert_close(results[3], -mixed.T @ series, rtol=1e-9, atol=1e-12)
    assert float((results[3] - exact).norm() / exact.norm()) > 1e-3


def test_ift_tuner_learns_one_decay_per_tensor_on_digits():
    problem = load_problem("digits", n_train=300, n_val=100, batch_size=32, hidden=16)
    model = problem.model(0)
    config = IFTConfig(weight_decay=1e-3, weight_decay_bounds=(1e-6, 1e-1), inner_steps=10, neumann_terms=5,
                       hyper_lr=0.2)
    tuner = IFTTuner(model, config, lambda m, s: problem.loss(m, *problem.batch(0, s)),
                     lambda m, s: problem.loss(m, problem.val_x, problem.val_y))
    rows = tuner.run(60)
    decays = [k for k in rows[-1] if k.startswith("weight_decay.")]
    assert len(rows) == 6 and len(decays) == 4
    assert len({round(rows[-1][k], 8) for k in decays}) > 1  # each tensor's decay moves on its own
    assert all(1e-6 - 1e-12 <= r[k] <= 1e-1 + 1e-9 for r in rows for k in decays)
    assert rows[-1]["val_objective"] < rows[0]["val_objective"]


def test_bad_ift_config():
    with pytest.raises(ConfigError, match="neumann_terms must be at least 1"):
        IFTConfig(neumann_terms=0).validate()
    model = nn.Linear(2, 1)
    with pytest.raises(ConfigError, match="lower 1.0 > upper 0.01"):
        IFTTuner(model, IFTConfig(weight_decay_bounds=(1.0, 0.01)), lambda m, s: 0, lambda m, s: 0)
