"""Policy-gradient MAML (Finn et al. 2017, section 5.3) and its first-order variant, on RL task families.

Per task: the inner step is a policy-gradient step on ``episodes`` trajectories sampled in the task with
the current policy (through ``metaopt.inner_loop``, the one door); after ``inner_steps`` such steps,
``episodes`` fresh trajectories of the adapted policy give the outer objective, PPO's clipped surrogate
(ProMP's choice; the paper used TRPO) with advantages from a linear-feature baseline, optimised for
``outer_epochs`` passes over the same samples (the clip is what keeps those passes near the sampling policy).

Second-order terms, two estimators (``estimator``):

* ``dice`` (default): the inner objective is DiCE, so differentiating through the inner step gives an
  unbiased estimate of the return's Hessian, score-function terms included (what plain autodiff of a
  REINFORCE surrogate gets wrong). This is the meta-gradient of ``J(theta + alpha grad J(theta))``
  (ProMP's "formulation II"), the paper's objective.
* ``exact``: the meta-gradient of the expected return after adapting on *sampled* trajectories,
  ``E_{D ~ pi_theta}[J(theta'(D))]``: the inner objective is plain REINFORCE, and the outer loss gains
  DiCE's term for the inner trajectories' distribution (E-MAML's term), with a running-mean baseline.

``tests/algorithms/test_maml_rl_gradients.py`` checks both against exact expectations on a one-step bandit.
``pretrain=True`` trains the same policy on all tasks with no adaptation (the paper's "pretrained"
comparison); it is still evaluated with ``eval_inner_steps`` policy-gradient steps.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from metaopt.algorithms._pg import (
    Trajectories,
    discounted_returns,
    inner_objective,
    linear_baseline,
    magic_box,
    policy_log_probs,
    ppo_objective,
    sample,
)
from metaopt.algorithms.base import LearnerConfig, MetaLearner, register
from metaopt.errors import ConfigError
from metaopt.inner_loop import InnerLoop
from metaopt.models.policy import MLPPolicy
from metaopt.typing import TaskKind

__all__ = ["MAMLRL", "FOMAMLRL", "MAMLRLConfig", "FOMAMLRLConfig"]


@dataclasses.dataclass
class MAMLRLConfig(LearnerConfig):
    inner_lr: float = 0.1  # the paper's alpha for 2-D navigation
    inner_steps: int = 1
    eval_inner_steps: int | None = None
    first_order: bool = False
    episodes: int = 20  # trajectories per inner step and for the outer objective (the paper's 20)
    gamma: float = 0.99
    baseline: str = "linear"
    # Divide the inner objective by the std of the batch's advantages (held constant), as MAML-RL's
    # code normalises its inner advantages; the exact-expectation tests switch it off.
    normalize_inner: bool = True
    estimator: str = "dice"
    clip: float = 0.2
    outer_epochs: int = 3
    hidden: int = 100  # two hidden layers of this width, as in the paper
    init_log_std: float = 0.0  # Gaussian policies only
    pretrain: bool = False

    def validate(self) -> None:
        if not self.inner_lr > 0:
            raise ConfigError(f"inner_lr must be positive, got {self.inner_lr}")
        for name in ("inner_steps", "episodes", "outer_epochs", "hidden"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.eval_inner_steps is not None and self.eval_inner_steps < 0:
            raise ConfigError(f"eval_inner_steps must be non-negative, got {self.eval_inner_steps}")
        if not 0 <= self.gamma <= 1:
            raise ConfigError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.baseline not in ("linear", "none"):
            raise ConfigError(f"unknown baseline {self.baseline!r}; choose from linear, none")
        if self.estimator not in ("dice", "exact"):
            raise ConfigError(f"unknown estimator {self.estimator!r}; choose from dice, exact")
        if not 0 < self.clip < 1:
            raise ConfigError(f"clip must be in (0, 1), got {self.clip}")
        for name in ("first_order", "pretrain", "normalize_inner"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")


@register
class MAMLRL(MetaLearner):
    """Policy-gradient MAML with a DiCE inner objective, a linear baseline and a clipped outer update."""

    name = "maml-rl"
    has_inner_loop = True
    # Its inner loss steps environments, which may be numpy (Gymnasium families): torch.func's traced
    # tensors cannot be read there, so ``auto`` keeps it on the higher engine.
    auto_engine = "higher"
    checkpoint_reason = ("its inner loss samples trajectories and records their log-probabilities, which a "
                         "recomputed step would do again")
    Config = MAMLRLConfig
    config: MAMLRLConfig
    kinds = frozenset({"rl"})

    def __init__(self, model: MLPPolicy, config: MAMLRLConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        self.continuous = model.continuous
        self.inner = InnerLoop(model, optimizer="sgd")
        # E-MAML term's baseline: a running mean of post-adaptation returns (no gradient, checkpointed).
        self.register_buffer("return_mean", torch.tensor(float("nan")))

    @classmethod
    def rl_policy(cls, source: Any, config: MAMLRLConfig) -> MLPPolicy:
        """The policy network for ``source``'s observations and actions (built by ``metaopt.runs``)."""
        if getattr(source, "continuous", False):
            return MLPPolicy(source.obs_size, action_dim=source.action_dim, hidden=(config.hidden,) * 2,
                             init_log_std=config.init_log_std)
        return MLPPolicy(source.obs_size, n_actions=source.n_actions, hidden=(config.hidden,) * 2)

    # -- sampling ---------------------------------------------------------------------------
    def _sample(self, policy: torch.nn.Module, task: Any, generator: torch.Generator) -> Trajectories:
        traj = sample(policy, task, self.config.episodes, self.continuous, generator)
        returns = discounted_returns(traj.rewards, self.config.gamma)
        if self.config.baseline == "linear":
            traj.values = linear_baseline(traj.obs, returns)
        traj.scale = 1.0
        if self.config.normalize_inner:
            traj.scale = 1.0 / (float((returns - (0 if traj.values is None else traj.values)).std()) + 1e-8)
        return traj

    def adapt(self, task: Any, steps: int, generator: torch.Generator, *, cache: dict | None = None,
              differentiable: bool = True, log_probs: list | None = None):
        """``steps`` policy-gradient steps on fresh trajectories of ``task``; ``cache`` keeps (and reuses) them."""
        cache = {} if cache is None else cache
        magic = self.config.estimator == "dice"

        def loss_fn(fmodule: torch.nn.Module, step: int) -> torch.Tensor:
            if step not in cache:
                cache[step] = self._sample(fmodule, task, generator)
            traj = cache[step]
            logp = policy_log_probs(fmodule, traj, self.continuous)
            if log_probs is not None:
                log_probs.append(logp.sum())
            return -inner_objective(logp, traj.log_probs, traj.rewards, traj.values, self.config.gamma, magic=magic,
                                    scale=traj.scale)

        return self.inner.adapt(loss_fn, steps, self.config.inner_lr, first_order=self.config.first_order,
                                differentiable=differentiable)

    # -- meta-training ------------------------------------------------------------------------
    def task_loss(self, task: Any, cache: dict, generator: torch.Generator) -> tuple[torch.Tensor, float]:
        """The outer loss of one task (and its post-adaptation mean return), reusing ``cache``'s samples."""
        c = self.config
        inner_logps: list[torch.Tensor] = []
        steps = 0 if c.pretrain else c.inner_steps
        result = self.adapt(task, steps, generator, cache=cache, log_probs=inner_logps)
        if "outer" not in cache:
            traj = self._sample(result.module, task, generator)
            advantages = discounted_returns(traj.rewards, c.gamma) - (0 if traj.values is None else traj.values)
            cache["outer"] = (traj, (advantages - advantages.mean()) / (advantages.std() + 1e-8))
        traj, advantages = cache["outer"]
        logp = policy_log_probs(result.module, traj, self.continuous)
        loss = -ppo_objective(logp, traj.log_probs, advantages, c.clip)
        mean_return = float(traj.rewards.sum(0).mean())
        if c.estimator == "exact" and not c.first_order and inner_logps:
            centre = 0.0 if torch.isnan(self.return_mean) else float(self.return_mean)
            loss = loss - (magic_box(torch.stack(inner_logps).sum()) - 1) * (mean_return - centre)
        return loss, mean_return

    def meta_loss(self, task: Any, iteration: int) -> torch.Tensor:  # type: ignore[override]
        return self.task_loss(task, {}, self._generator())[0]

    def _generator(self, seed: int | None = None) -> torch.Generator:
        # Training draws from torch's global generator (checkpointed, so resumes are exact).
        seed = int(torch.randint(2**62, (1,))) if seed is None else seed
        return torch.Generator().manual_seed(seed % 2**63)

    def meta_step(self, tasks: list, optimizer: torch.optim.Optimizer, iteration: int) -> dict[str, float]:
        caches = [{} for _ in tasks]
        generators = [self._generator() for _ in tasks]
        first_loss, returns = 0.0, []
        for epoch in range(self.config.outer_epochs):
            optimizer.zero_grad(set_to_none=True)
            for task, cache, gen in zip(tasks, caches, generators):
                loss, ret = self.task_loss(task, cache, gen)
                (loss / len(tasks)).backward()
                if epoch == 0:
                    first_loss += float(loss.detach()) / len(tasks)
                    returns.append(ret)
            optimizer.step()
        batch_mean = sum(returns) / len(returns)
        self.return_mean.fill_(batch_mean if torch.isnan(self.return_mean) else
                               0.9 * float(self.return_mean) + 0.1 * batch_mean)
        regret = sum(float(c["outer"][0].regret.mean()) for c in caches) / len(caches)
        return {"meta_loss": first_loss, "return": batch_mean, "regret": regret}

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate_task(self, task: Any, steps: int | None = None) -> Trajectories:
        """Adapt ``steps`` times (default ``eval_inner_steps`` or ``inner_steps``; 0 allowed) on trajectories
        seeded by the task, then play ``episodes`` fresh trajectories with the adapted policy."""
        c = self.config
        if steps is None:
            steps = c.eval_inner_steps if c.eval_inner_steps is not None else c.inner_steps
        with torch.enable_grad():
            result = self.adapt(task, steps, self._generator(task.seed + 1), differentiable=False)
        with torch.no_grad():
            return sample(result.module, task, c.episodes, self.continuous, self._generator(task.seed))

    def predict(self, task: Any, steps: int | None = None) -> torch.Tensor:  # type: ignore[override]
        """Mean expected reward at each step of the adapted policy's trajectories ``[T]``."""
        return self.evaluate_task(task, steps).expected.mean(1)

    def score(self, task: Any, steps: int | None = None) -> float:  # type: ignore[override]
        """Mean regret of the adapted policy's trajectories (lower is better)."""
        return float(self.evaluate_task(task, steps).regret.mean())


@dataclasses.dataclass
class FOMAMLRLConfig(MAMLRLConfig):
    first_order: bool = True

    def validate(self) -> None:
        super().validate()
        if not self.first_order:
            raise ConfigError("fomaml-rl is first order: first_order must be true (use maml-rl for second order)")


@register
class FOMAMLRL(MAMLRL):
    """First-order policy-gradient MAML: the inner gradient is a constant to the outer update."""

    name = "fomaml-rl"
    Config = FOMAMLRLConfig
