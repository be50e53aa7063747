"""Policy-gradient pieces of MAML-RL, as functions over explicit tensors (testable without the learner).

* ``sample``: seeded trajectories of one task under a policy (no graph; log-probabilities kept).
* ``linear_baseline``: Duan et al. 2016's linear-feature value baseline, refitted on each batch.
* ``inner_objective``: what the inner policy-gradient step ascends. With ``magic=True`` it is DiCE
  (Foerster et al. 2018) with its baseline term (Mao et al. 2019): every derivative of it, not only the
  first, is an unbiased estimate of that derivative of the expected return, so differentiating the
  inner step once more (second-order MAML) gets the score-function terms of the Hessian. With
  ``magic=False`` it is the plain REINFORCE surrogate (same value and gradient, Hessian without those
  terms), for the estimator that puts the sampling distribution's term on the outer objective instead.
* ``ppo_objective``: the clipped surrogate of the outer update (Schulman et al. 2017; ProMP uses it for
  MAML-RL's outer step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from metaopt.models.policy import log_prob, sample_actions
from metaopt.tasks.rl import BatchEnv, RLTask, make_env

__all__ = ["Trajectories", "task_env", "sample", "discounted_returns", "linear_baseline", "inner_objective",
           "ppo_objective", "magic_box", "policy_log_probs"]


@dataclass
class Trajectories:
    """``[T, N]`` per-step tensors of ``N`` trajectories of one task (observations ``[T, N, O]``)."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    expected: torch.Tensor
    log_probs: torch.Tensor  # under the policy that sampled them, no graph
    oracle: torch.Tensor  # [N]
    values: torch.Tensor | None = None  # baseline, filled by the learner
    scale: float = 1.0  # constant factor on the inner objective, set by the learner

    @property
    def regret(self) -> torch.Tensor:
        return self.oracle - self.expected.sum(0)


def task_env(task: RLTask, copies: int, generator: torch.Generator) -> BatchEnv:
    """``copies`` independent plays of one task; random rewards (bandits) drawn from ``generator``."""
    if task.family == "bandit":
        from metaopt.tasks.bandit import BanditEnv

        probs = task.params.expand(copies, -1)
        return BanditEnv(probs, task.horizon, torch.rand(task.horizon, copies, generator=generator))
    if task.family.startswith("gym:"):
        from metaopt.tasks.gym_family import GymBatchEnv

        seeds = torch.randint(2**31, (copies,), generator=generator).tolist()
        return GymBatchEnv(task.family, task.params.expand(copies, *task.params.shape), task.horizon, seeds)
    return make_env([task] * copies)


def sample(policy: nn.Module, task: RLTask, n: int, continuous: bool, generator: torch.Generator) -> Trajectories:
    """Play ``n`` trajectories of ``task`` for its horizon with ``policy`` (a module or its adapted copy)."""
    env = task_env(task, n, generator)
    obs = env.reset()
    rows: dict[str, list[torch.Tensor]] = {k: [] for k in ("o", "a", "r", "e", "lp")}
    with torch.no_grad():
        for _ in range(task.horizon):
            params = policy(obs)
            action = sample_actions(params, continuous, generator)
            rows["o"].append(obs)
            rows["lp"].append(log_prob(params, action, continuous))
            obs, reward, expected, _ = env.step(action)
            rows["a"].append(action)
            rows["r"].append(reward.float())
            rows["e"].append(expected.float())
    s = {k: torch.stack(v) for k, v in rows.items()}
    return Trajectories(s["o"], s["a"], s["r"], s["e"], s["lp"], env.oracle_return().float())


def policy_log_probs(policy: nn.Module, traj: Trajectories, continuous: bool) -> torch.Tensor:
    """``[T, N]`` log-probabilities of the trajectories' actions under ``policy``, with a graph."""
    t, n = traj.rewards.shape
    params = policy(traj.obs.reshape(t * n, -1))
    return log_prob(params.view(t, n, -1), traj.actions, continuous)


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``R_t = sum_{k >= t} gamma^(k - t) r_k`` over ``[T, N]`` rewards."""
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def linear_baseline(obs: torch.Tensor, returns: torch.Tensor, reg: float = 1e-5) -> torch.Tensor:
    """Fitted values ``[T, N]`` of a ridge regression of ``returns`` on the features of Duan et al. 2016:
    observation (clipped to +-10) and its square, time ``t / 100`` to the powers 1-3, and a constant."""
    t, n = returns.shape
    o = obs.reshape(t, n, -1).double().clamp(-10, 10)
    time = (torch.arange(t, dtype=torch.float64) / 100).view(t, 1, 1).expand(t, n, 1)
    feats = torch.cat([o, o.pow(2), time, time.pow(2), time.pow(3), torch.ones_like(time)], dim=2).reshape(t * n, -1)
    y = returns.double().reshape(-1, 1)
    gram, target = feats.T @ feats, feats.T @ y
    eye = torch.eye(gram.shape[0], dtype=torch.float64)
    for _ in range(6):  # rllab's recipe: raise the ridge tenfold until the solve is finite
        w = torch.linalg.solve(gram + reg * eye, target)
        if torch.isfinite(w).all():
            break
        reg *= 10
    return (feats @ w).view(t, n).to(returns.dtype)


def magic_box(x: torch.Tensor) -> torch.Tensor:
    """DiCE's operator: evaluates to 1, and its gradient is ``magic_box(x) * grad x``."""
    return torch.exp(x - x.detach())


def inner_objective(
    logp: torch.Tensor, logp_old: torch.Tensor, rewards: torch.Tensor, values: torch.Tensor | None, gamma: float,
    *, magic: bool = True, scale: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    """The inner step's objective (to ascend), averaged over trajectories; ``[T, N]`` inputs.

    ``magic``: ``sum_t gamma^t [w_{<=t} r_t + (1 - w_t) b_t]`` with ``w_{<=t} = exp(sum_{k<=t} (logp_k - logp_old_k))``;
    at the sampling policy the weights are DiCE's magic boxes (value 1), elsewhere they are the
    trajectory-prefix importance ratios, so reused data (several outer epochs) stays corrected. (Treating
    reused data as on-policy instead, boxes centred at the current weights, made nav2d training diverge
    in a 30-iteration probe where this form learned; the outer clip keeps the ratios near 1.)
    Otherwise: ``sum_t logp_t * rho_t * gamma^t (R_t - b_t)`` with the per-step ratios ``rho_t`` held constant.
    Both are divided by the horizon (rllab's per-step mean) and multiplied by ``scale`` (a constant).
    """
    disc = scale * gamma ** torch.arange(rewards.shape[0], dtype=rewards.dtype).unsqueeze(1) / rewards.shape[0]
    b = torch.zeros_like(rewards) if values is None else values
    diff = logp - logp_old
    if magic:
        prefix, step = torch.exp(diff.cumsum(0)), torch.exp(diff)
        return (disc * (prefix * rewards + (1 - step) * b)).sum(0).mean()
    advantage = discounted_returns(rewards, gamma) - b
    return (logp * torch.exp(diff).detach() * disc * advantage).sum(0).mean()


def ppo_objective(logp: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, clip: float) -> torch.Tensor:
    """Mean over steps of ``min(rho A, clip(rho, 1 - clip, 1 + clip) A)``, ``rho`` the per-step ratio."""
    ratio = torch.exp(logp - logp_old)
    return torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()
