"""Bernoulli k-armed bandits as in RL^2 (Duan et al. 2016), section 4.1: p_i ~ U[0, 1].

One trial is ``horizon`` pulls; every pull is an episode of length one, so the done flag is
always set. Regret is the pseudo-regret ``horizon * max_i p_i - sum_t p_{a_t}``.
"""

from __future__ import annotations

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.rl import BatchEnv, RLTaskSource

__all__ = ["BanditTasks", "BanditEnv"]


class BanditTasks(RLTaskSource):
    family = "bandit"

    def __init__(self, arms: int, horizon: int) -> None:
        if arms < 2:
            raise ConfigError(f"a bandit needs at least 2 arms, got {arms}")
        super().__init__(arms, horizon)

    @property
    def n_actions(self) -> int:
        return self.size

    @property
    def obs_size(self) -> int:
        return 0

    def task_params(self, rng: np.random.Generator) -> torch.Tensor:
        return torch.as_tensor(rng.uniform(0.0, 1.0, size=self.size), dtype=torch.float32)


class BanditEnv(BatchEnv):
    """``probs`` ``[B, k]``; the reward at step t is 1 when ``uniforms[t] < p`` of the arm pulled.
    Without ``uniforms`` the draws come from torch's global generator."""

    obs_size = 0

    def __init__(self, probs: torch.Tensor, horizon: int, uniforms: torch.Tensor | None = None) -> None:
        self.probs = probs.float()
        self.n_actions = probs.shape[1]
        self.horizon = horizon
        self.uniforms = uniforms if uniforms is not None else torch.rand(horizon, probs.shape[0])
        self.t = 0

    def reset(self) -> torch.Tensor:
        self.t = 0
        return self._obs()

    def _obs(self) -> torch.Tensor:
        return self.probs.new_zeros(self.probs.shape[0], 0)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        expected = self.probs.gather(1, actions.view(-1, 1)).squeeze(1)
        reward = (self.uniforms[self.t] < expected).float()
        self.t += 1
        return self._obs(), reward, expected, torch.ones_like(reward)

    def oracle_return(self) -> torch.Tensor:
        return self.horizon * self.probs.max(dim=1).values
