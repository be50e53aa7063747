"""ABML: the Gaussian weight family against references, the inner ELBO steps, predictive uncertainty."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from metaopt.algorithms import build_config
from metaopt.algorithms.abml import ABML
from metaopt.models import MLP
from metaopt.models.bayesian import GaussianWeights, gaussian_kl
from metaopt.tasks.sinusoid import SinusoidTasks


def test_mean_weights_reproduce_the_model_and_samples_spread():
    torch.manual_seed(0)
    model = MLP(1, (8,), 1)
    q = GaussianWeights(model, init_log_sigma=-2.0)
    x = torch.linspace(-1, 1, 5)[:, None]
    assert torch.allclose(q(x, mean_only=True)[0], model(x))
    draws = q(x, samples=4)
    assert draws.shape == (4, 5, 1) and draws.std(0).mean() > 0
    assert {n for n, _ in q.named_parameters()} == {f"{kind}__{n.replace('.', '__')}" for n, _ in
                                                     model.named_parameters() for kind in ("mean", "logsig")}


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    q, p = GaussianWeights(MLP(1, (3,), 1), -1.0), GaussianWeights(MLP(1, (3,), 1), -2.0)
    expected = sum(
        kl_divergence(Normal(mq, lq.exp()), Normal(mp, lp.exp())).sum()
        for mq, lq, mp, lp in zip(q.means(), q.log_sigmas(), p.means(), p.log_sigmas())
    )
    assert float(gaussian_kl(q, p).detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert float(gaussian_kl(q, q).detach()) == pytest.approx(0.0, abs=1e-6)


def _learner(kind: str = "regression", **config) -> ABML:
    torch.manual_seed(0)
    return ABML(MLP(1, (40, 40), 1), build_config("abml", {"inner_lr": 0.01, **config}), kind)


def test_inner_steps_lower_the_support_elbo_and_meta_gradients_reach_the_prior():
    learner = _learner(inner_steps=3, kl_weight=1e-3)
    task = SinusoidTasks(10, 10).sample(__import__("numpy").random.default_rng(0))
    result = learner.adapt(task.support_x, task.support_y, 3, differentiable=True)
    assert result.support_losses[-1] < result.support_losses[0]
    learner.meta_loss(task, 0).backward()
    grads = [p.grad for p in learner.model.log_sigmas()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)  # the prior's variances are meta-learned
    assert learner.log_noise.grad is not None


def test_predictive_is_reproducible_and_leaves_the_global_rng_alone():
    learner = _learner()
    task = SinusoidTasks(5, 20).sample(__import__("numpy").random.default_rng(1))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = learner.predictive(task)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first.samples, learner.predictive(task).samples)
    assert first.samples.shape == (10, 20, 1) and (first.std() > first.noise_std - 1e-6).all()
    assert torch.equal(learner.predict(task), first.mean())


def test_classification_predictions_are_log_probabilities():
    from metaopt.models import default_model

    torch.manual_seed(0)
    learner = ABML(default_model((1, 16, 16), 3), build_config("abml", {"inner_lr": 0.4}), "classification")
    x = torch.rand(6, 1, 16, 16)
    from metaopt.tasks.base import Task

    task = Task(x[:3], torch.arange(3), x[3:], torch.arange(3), "classification", 3)
    out = learner.predict(task)
    assert torch.allclose(out.exp().sum(-1), torch.ones(3), atol=1e-5)


@pytest.mark.parametrize("bad", [{"samples": 0}, {"eval_samples": 0}, {"kl_weight": -1.0}])
def test_bad_config(bad):
    from metaopt.errors import ConfigError

    with pytest.raises(ConfigError, match=next(iter(bad))):
        build_config("abml", bad)


def test_interval_coverage_counts_targets_inside_the_band():
    from metaopt.algorithms.abml import Predictive

    pred = Predictive(torch.tensor([[[0.0], [0.0], [0.0], [0.0]]] * 2), noise_std=1.0)  # mean 0, std 1
    target = torch.tensor([[0.5], [-1.9], [2.0], [-3.0]])
    assert pred.coverage(target) == pytest.approx(0.5)
    assert pred.coverage(target, z=3.0) == pytest.approx(1.0)
