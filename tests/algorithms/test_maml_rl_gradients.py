"""MAML-RL's meta-gradients against exact expectations on a one-step, two-armed bandit.

Rewards are deterministic (arm 0 pays R[0], arm 1 pays R[1]), so every batch of sampled actions can be
enumerated with its probability: the estimator's *expected* gradient is then computed exactly, with no
Monte-Carlo noise, and compared with the analytic derivative of the exact objective. float64 throughout.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.func import functional_call

from metaopt.algorithms import build_config
from metaopt.algorithms._pg import Trajectories, inner_objective
from metaopt.algorithms.maml_rl import MAMLRL
from metaopt.models.policy import MLPPolicy
from metaopt.tasks.rl import RLTask

R = torch.tensor([1.0, 0.3], dtype=torch.float64)
ALPHA, N_IN, N_OUT = 0.7, 3, 2


def _learner(**config) -> MAMLRL:
    torch.manual_seed(0)
    policy = MLPPolicy(0, n_actions=2, hidden=(3,)).double()
    cfg = build_config("maml-rl", {"inner_lr": ALPHA, "baseline": "none", "normalize_inner": False,
                                   "outer_epochs": 1, "episodes": N_IN, **config})
    return MAMLRL(policy, cfg, "rl")


def _probs(policy, params=None) -> torch.Tensor:
    x = torch.ones(1, 0, dtype=torch.float64)
    out = policy(x) if params is None else functional_call(policy, params, (x,))
    return out.softmax(-1)[0]


def _traj(actions: tuple[int, ...], logp: torch.Tensor) -> Trajectories:
    a = torch.tensor(actions).view(1, -1)
    rewards = R[a]
    return Trajectories(torch.ones(1, len(actions), 0, dtype=torch.float64), a, rewards, rewards, logp[a].detach(),
                        torch.full((len(actions),), float(R.max()), dtype=torch.float64))


def exact_objective(policy) -> torch.Tensor:
    """``E_{D ~ pi_theta^N}[J(theta'(D))]``, theta' one REINFORCE step on D, J the exact expected reward."""
    params = dict(policy.named_parameters())
    probs = _probs(policy)
    total = torch.zeros((), dtype=torch.float64)
    for d in itertools.product((0, 1), repeat=N_IN):
        a = torch.tensor(d)
        surrogate = (probs.log()[a] * R[a]).mean()
        grads = torch.autograd.grad(surrogate, list(params.values()), create_graph=True)
        adapted = {k: v + ALPHA * g for (k, v), g in zip(params.items(), grads)}
        total = total + probs[a].prod() * (_probs(policy, adapted) * R).sum()
    return total


def expected_estimate(learner: MAMLRL) -> list[torch.Tensor]:
    """The exact expectation of the gradient the learner's outer loss gives, over inner and outer samples."""
    policy, params = learner.model, list(learner.model.parameters())
    task = RLTask("bandit", R.float(), 2, 1, seed=0)
    logp = _probs(policy).log()
    total = [torch.zeros_like(p) for p in params]
    for d_in in itertools.product((0, 1), repeat=N_IN):
        p_in = float(logp.detach().exp()[list(d_in)].prod())
        cache = {0: _traj(d_in, logp)}
        adapted = learner.adapt(task, 1, torch.Generator(), cache=cache, differentiable=False).module
        logp_out = adapted(torch.ones(1, 0, dtype=torch.float64)).log_softmax(-1)[0].detach()
        for d_out in itertools.product((0, 1), repeat=N_OUT):
            p_out = float(logp_out.exp()[list(d_out)].prod())
            traj = _traj(d_out, logp_out)
            cache = {0: cache[0], "outer": (traj, traj.rewards)}  # advantages = rewards: no baseline, no scaling
            loss, _ = learner.task_loss(task, cache, torch.Generator())
            grads = torch.autograd.grad(-loss, params)
            total = [t + p_in * p_out * g for t, g in zip(total, grads)]
    return total


def test_exact_estimator_is_unbiased_for_the_expected_post_adaptation_return():
    learner = _learner(estimator="exact")
    reference = torch.autograd.grad(exact_objective(learner.model), list(learner.model.parameters()))
    for got, want in zip(expected_estimate(learner), reference):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_dropping_second_order_terms_is_visibly_biased():
    """The same check fails for the first-order variant: the reference is sharp enough to tell."""
    learner = _learner(estimator="exact", first_order=True)
    reference = torch.autograd.grad(exact_objective(learner.model), list(learner.model.parameters()))
    gap = max(float((g - w).abs().max()) for g, w in zip(expected_estimate(learner), reference))
    assert gap > 1e-3


def _inner_hessian(magic: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected Hessian of the inner objective over N sampled actions, and the exact Hessian of J."""
    torch.manual_seed(1)
    policy = MLPPolicy(0, n_actions=2, hidden=(3,)).double()
    names = [k for k, _ in policy.named_parameters()]
    shapes = [p.shape for p in policy.parameters()]
    theta0 = torch.cat([p.detach().reshape(-1) for p in policy.parameters()])

    def unflatten(flat):
        out, i = {}, 0
        for k, s in zip(names, shapes):
            out[k] = flat[i:i + s.numel()].view(s)
            i += s.numel()
        return out

    def exact_j(flat):
        return (_probs(policy, unflatten(flat)) * R).sum()

    logp0 = _probs(policy).log().detach()
    expected = torch.zeros(len(theta0), len(theta0), dtype=torch.float64)
    for d in itertools.product((0, 1), repeat=N_IN):
        a = torch.tensor(d).view(1, -1)

        def estimate(flat, a=a):
            logp = _probs(policy, unflatten(flat)).log()[a]
            return inner_objective(logp, logp0[a], R[a], None, 1.0, magic=magic)

        expected += float(logp0.exp()[a].prod()) * torch.autograd.functional.hessian(estimate, theta0)
    return expected, torch.autograd.functional.hessian(exact_j, theta0)


def test_dice_inner_objective_gives_the_exact_hessian_in_expectation():
    expected, exact = _inner_hessian(magic=True)
    torch.testing.assert_close(expected, exact, rtol=1e-9, atol=1e-12)


def test_plain_reinforce_surrogate_misses_the_score_function_terms():
    expected, exact = _inner_hessian(magic=False)
    assert float((expected - exact).abs().max()) > 1e-3


@pytest.mark.parametrize("estimator", ["dice", "exact"])
def test_first_derivative_is_the_policy_gradient(estimator):
    """Whatever the estimator, the inner step itself is an unbiased policy-gradient step."""
    learner = _learner(estimator=estimator)
    task = RLTask("bandit", R.float(), 2, 1, seed=0)
    policy = learner.model
    probs = _probs(policy)
    mean_step = None
    for d in itertools.product((0, 1), repeat=N_IN):
        cache = {0: _traj(d, probs.log())}
        adapted = learner.adapt(task, 1, torch.Generator(), cache=cache, differentiable=False).module
        weight = float(probs.detach()[list(d)].prod())
        step = [(a - p).detach() * weight for a, p in zip(adapted.fast_params, policy.parameters())]
        mean_step = step if mean_step is None else [m + s for m, s in zip(mean_step, step)]
    exact = torch.autograd.grad((probs * R).sum(), list(policy.parameters()))
    for s, g in zip(mean_step, exact):
        torch.testing.assert_close(s, ALPHA * g, rtol=1e-9, atol=1e-12)
