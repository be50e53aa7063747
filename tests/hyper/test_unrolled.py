"""Unrolled hypergradients: exact against finite differences, and they move the LR toward its optimum."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metaopt.errors import ConfigError
from metaopt.hyper.problems import load_problem
from metaopt.hyper.unrolled import UnrolledConfig, UnrolledTuner, training_hypers, unrolled_validation_loss


def test_unrolled_hypergradient_matches_finite_differences_float64():
    problem = load_problem("digits", dtype=torch.float64, n_train=200, n_val=100, batch_size=32, hidden=16)
    model = problem.model(0)
    learned, fixed = training_hypers(UnrolledConfig(lr=0.1, weight_decay=1e-2, momentum=0.5), torch.float64)

    def train_loss(module, step):
        return problem.loss(module, *problem.batch(0, step))

    def val_loss(module, step):
        return problem.loss(module, problem.val_x, problem.val_y)

    def objective():
        return unrolled_validation_loss(model, learned, fixed, train_loss, val_loss, 4)

    grads = torch.autograd.grad(objective(), list(learned.raw_parameters()))
    eps = 1e-6
    for hp, grad in zip(learned.values(), grads):
        hp.raw.data += eps
        up = float(objective())
        hp.raw.data -= 2 * eps
        down = float(objective())
        hp.raw.data += eps
        assert abs(float(grad)) > 1e-7
        assert float(grad) == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9), hp.name


class Quadratic(nn.Module):
    """f(w) = a/2 ‖w‖²: one gradient step with rate 1/a lands on the minimum."""

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = a
        self.w = nn.Parameter(torch.ones(4, dtype=torch.float64))

    def loss(self, module: nn.Module) -> torch.Tensor:
        return 0.5 * self.a * module.w.pow(2).sum()


@pytest.mark.parametrize("start", [0.2, 1.6])
def test_unrolled_moves_the_rate_toward_the_known_optimum(start):
    a = 4.0
    best = 1 / a
    model = Quadratic(a)
    config = UnrolledConfig(lr=start * best, weight_decay=0.0, momentum=0.0, learn=("lr",), horizon=1,
                            hyper_lr=0.1, lr_bounds=(1e-4, 10.0))
    # The model is re-centred every step so the objective never vanishes and the optimum stays 1/a.
    tuner = UnrolledTuner(model, config, lambda m, s: model.loss(m), lambda m, s: model.loss(m))
    first = abs(tuner.hyperparameters()["lr"] - best)
    for _ in range(50):
        with torch.no_grad():
            model.w.fill_(1.0)
        tuner.run(1)
    assert abs(tuner.hyperparameters()["lr"] - best) < 0.2 * first


def test_tuner_trains_a_classifier_and_keeps_hyperparameters_in_bounds():
    torch.manual_seed(0)
    problem = load_problem("digits", n_train=300, n_val=100, batch_size=32, hidden=16)
    model = problem.model(0)
    before = problem.evaluate(model)["loss"]
    config = UnrolledConfig(lr=0.05, lr_bounds=(0.01, 0.2), momentum=0.5, momentum_bounds=(0.0, 0.9), horizon=5,
                            hyper_lr=0.3)
    rows = UnrolledTuner(model, config, lambda m, s: problem.loss(m, *problem.batch(0, s)),
                         lambda m, s: problem.loss(m, problem.val_x, problem.val_y)).run(60)
    assert len(rows) == 12 and rows[-1]["step"] == 60
    assert problem.evaluate(model)["loss"] < before
    assert all(0.01 - 1e-7 <= r["lr"] <= 0.2 + 1e-7 and 0 <= r["momentum"] <= 0.9 for r in rows)
    assert len({round(r["lr"], 6) for r in rows}) > 1  # the rate is actually learned


def test_bad_config_is_rejected():
    with pytest.raises(ConfigError, match="cannot learn beta"):
        training_hypers(UnrolledConfig(learn=("lr", "beta")))
    with pytest.raises(ConfigError, match="lower 0.5 > upper 0.1"):
        training_hypers(UnrolledConfig(lr_bounds=(0.5, 0.1)))
    with pytest.raises(ConfigError, match="momentum 1.0 is invalid"):
        training_hypers(UnrolledConfig(momentum=1.0, learn=("lr",)))
