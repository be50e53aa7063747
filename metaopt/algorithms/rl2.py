"""RL^2 (Duan et al. 2016): a recurrent policy meta-trained with A2C across procedurally drawn tasks.

The policy sees (observation, previous action, previous reward, previous done flag); its GRU
state is *not* reset between episodes of a task, so the outer policy-gradient learns a
learning algorithm that runs in the hidden state. The paper trains with TRPO; we use A2C with
GAE (same advantage estimator, simpler step), which is what most reimplementations do on bandits.
The meta-batch is rolled out as one batch of environments, so an outer step is one batched
pass of ``horizon`` GRU steps and one backward through time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from metaopt.algorithms.base import LearnerConfig, MetaLearner, register
from metaopt.errors import ConfigError
from metaopt.models.recurrent import RecurrentPolicy
from metaopt.tasks.rl import RLTask, make_env, task_uniforms

__all__ = ["RL2", "RL2Config", "Rollout", "rollout", "gae", "a2c_loss"]


@dataclasses.dataclass
class RL2Config(LearnerConfig):
    hidden: int = 64
    # The paper's TRPO run used gamma 0.99, lambda 0.3 with very large batches; with A2C's small
    # meta-batches those learned nothing in our bandit probes, while 0.9 / 0.9 learned steadily.
    gamma: float = 0.9
    gae_lambda: float = 0.9
    # 0.01 suits 10-pull bandits and the 5x5 grid world. At 100 pulls it lets the policy collapse
    # to a near-deterministic, history-blind arm choice (entropy ~0.05 nats after ~600 updates)
    # before it learns to use its memory, and regret stays at random play's; 0.1 with Adam 1e-2
    # learns there (docs/results/rl.md, issue #7).
    entropy: float = 0.01
    value_coef: float = 0.1
    # Standardise each batch's advantages (mean 0, std 1 over all steps of all tasks).
    normalize_advantages: bool = True

    def validate(self) -> None:
        if self.hidden < 1:
            raise ConfigError(f"hidden must be a positive integer, got {self.hidden}")
        for name in ("gamma", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("entropy", "value_coef"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be non-negative, got {getattr(self, name)}")
        if not isinstance(self.normalize_advantages, bool):
            raise ConfigError(f"normalize_advantages must be true or false, got {self.normalize_advantages!r}")


@dataclass
class Rollout:
    """Per-step tensors ``[T, B]`` of one trial per task, and each task's oracle return ``[B]``."""

    log_probs: torch.Tensor
    values: torch.Tensor
    entropies: torch.Tensor
    rewards: torch.Tensor
    expected: torch.Tensor
    actions: torch.Tensor
    oracle: torch.Tensor

    @property
    def regret(self) -> torch.Tensor:
        return self.oracle - self.expected.sum(0)


def rollout(policy: RecurrentPolicy, tasks: Sequence[RLTask], *, greedy: bool = False) -> Rollout:
    """Play one trial of every task with ``policy``, carrying the hidden state across episodes.

    Actions are sampled by inverse CDF from each task's own uniforms, so a task's trial is the
    same alone or in any batch (evaluation is reproducible; training resumes exactly)."""
    env = make_env(tasks)
    noise = task_uniforms(tasks, 1)
    batch = len(tasks)
    obs = env.reset()
    hidden = policy.initial_state(batch)
    prev = torch.zeros(batch, env.n_actions + 2)  # one-hot previous action, reward, done
    steps: dict[str, list[torch.Tensor]] = {k: [] for k in ("lp", "v", "ent", "r", "e", "a")}
    for t in range(env.horizon):
        logits, value, hidden = policy(torch.cat([obs, prev], dim=1), hidden)
        log_p = F.log_softmax(logits, dim=-1)
        if greedy:
            action = log_p.argmax(-1)
        else:
            cdf = log_p.detach().exp().cumsum(-1)
            action = (cdf < noise[t, :, None]).sum(-1).clamp(max=env.n_actions - 1)
        obs, reward, expected, done = env.step(action)
        prev = torch.cat([F.one_hot(action, env.n_actions).float(), reward[:, None], done[:, None]], dim=1)
        for key, v in (("lp", log_p.gather(1, action[:, None]).squeeze(1)), ("v", value),
                       ("ent", -(log_p.exp() * log_p).sum(-1)), ("r", reward), ("e", expected), ("a", action)):
            steps[key].append(v)
    s = {k: torch.stack(v) for k, v in steps.items()}
    return Rollout(s["lp"], s["v"], s["ent"], s["r"], s["e"], s["a"], env.oracle_return())


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Generalised advantage estimates ``[T, B]``; the trial is one episode for the meta-learner
    (episode boundaries inside it are not cut: RL^2 maximises the whole trial's return)."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    next_value = torch.zeros_like(values[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
        next_value = values[t]
    return advantages


def a2c_loss(
    roll: Rollout, gamma: float, lam: float, entropy: float, value_coef: float, *, normalize: bool = True
) -> torch.Tensor:
    """Advantage actor-critic loss with GAE advantages (standardised over the batch when
    ``normalize``) and a λ-return value target."""
    advantages = gae(roll.rewards, roll.values.detach(), gamma, lam)
    returns = advantages + roll.values.detach()
    if normalize:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = -(roll.log_probs * advantages).mean()
    value_loss = F.mse_loss(roll.values, returns)
    return policy_loss + value_coef * value_loss - entropy * roll.entropies.mean()


@register
class RL2(MetaLearner):
    """RL^2 (Duan et al. 2016): GRU policy, hidden state kept across episodes, trained with A2C."""

    name = "rl2"
    Config = RL2Config
    config: RL2Config
    kinds = frozenset({"rl"})

    @classmethod
    def model_options(cls, config: LearnerConfig) -> dict:
        return {"hidden": config.hidden}  # type: ignore[attr-defined]

    def _loss(self, tasks: Sequence[RLTask]) -> tuple[torch.Tensor, Rollout]:
        roll = rollout(self.model, tasks)
        c = self.config
        return a2c_loss(roll, c.gamma, c.gae_lambda, c.entropy, c.value_coef, normalize=c.normalize_advantages), roll

    def meta_loss(self, task: RLTask, iteration: int) -> torch.Tensor:  # type: ignore[override]
        return self._loss([task])[0]

    def meta_step(self, tasks: list, optimizer: torch.optim.Optimizer, iteration: int) -> dict[str, float]:
        optimizer.zero_grad(set_to_none=True)
        loss, roll = self._loss(tasks)
        loss.backward()
        optimizer.step()
        return {"meta_loss": float(loss.detach()), "regret": float(roll.regret.mean())}

    def predict(self, task: RLTask, steps: int | None = None) -> torch.Tensor:  # type: ignore[override]
        """Expected reward of each step of one trial (``steps`` does not apply: RL^2 adapts in its state)."""
        with torch.no_grad():
            return rollout(self.model, [task]).expected[:, 0]

    def score(self, task: RLTask, steps: int | None = None) -> float:  # type: ignore[override]
        """Regret of one trial (lower is better)."""
        with torch.no_grad():
            return float(rollout(self.model, [task]).regret[0])
