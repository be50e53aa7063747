"""2-D point navigation (Finn et al. 2017, section 5.3): reach a hidden goal in the unit square.

The agent starts at the origin; a task is a goal drawn uniformly from ``[-0.5, 0.5]^2``. An action is a
2-D displacement; the reward after each move is minus the Euclidean distance to the goal; a trial
lasts ``horizon`` steps (100 in the paper). Two choices differ from the paper and are said here: the
displacement is clipped to length 0.1 (the paper clips each coordinate to ``[-0.1, 0.1]``), and the
episode does not end within 0.01 of the goal. Both make the best return exact: an oracle that knows
the goal walks straight at full speed, so after ``t`` steps it is ``max(d0 - 0.1 t, 0)`` away (no
policy can close the distance faster), and regret is measured against that.

``Nav2DEnv`` is the same environment with the Gymnasium API (``reset(seed=...)`` returns ``(obs, info)``,
``step`` returns ``(obs, reward, terminated, truncated, info)``) but without gymnasium, which is optional:
the template of a user's own task family (``metaopt.tasks.gym_family``). The registered
``gymnasium.Env`` is ``gymnasium.make("metaopt/Nav2D-v0")`` (``metaopt.tasks.gym_envs``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from metaopt.tasks.rl import BatchEnv, RLTaskSource

__all__ = ["Nav2DTasks", "Nav2DBatchEnv", "Nav2DEnv", "MAX_STEP", "oracle_return", "FAMILY"]

MAX_STEP = 0.1


def _clip(actions: torch.Tensor) -> torch.Tensor:
    norm = actions.norm(dim=-1, keepdim=True)
    return actions * (MAX_STEP / norm.clamp(min=MAX_STEP))


def oracle_return(goals: torch.Tensor, horizon: int) -> torch.Tensor:
    """Best expected trial return ``[B]``: walk straight to the goal at full speed, then stay."""
    steps = torch.arange(1, horizon + 1, dtype=goals.dtype)
    return -(goals.norm(dim=-1, keepdim=True) - MAX_STEP * steps).clamp(min=0).sum(-1)


class Nav2DTasks(RLTaskSource):
    family = "nav2d"
    continuous = True
    action_dim = 2

    def __init__(self, horizon: int) -> None:
        super().__init__(2, horizon)

    @property
    def n_actions(self) -> int:
        return 0  # continuous: see action_dim

    @property
    def obs_size(self) -> int:
        return 2

    def task_params(self, rng: np.random.Generator) -> torch.Tensor:
        return torch.as_tensor(rng.uniform(-0.5, 0.5, size=2), dtype=torch.float32)


class Nav2DBatchEnv(BatchEnv):
    """``goals`` ``[B, 2]``; observations are positions ``[B, 2]``; actions ``[B, 2]`` displacements."""

    n_actions = 0
    obs_size = 2
    continuous = True

    def __init__(self, goals: torch.Tensor, horizon: int) -> None:
        self.goals = goals.float()
        self.horizon = horizon
        self.pos = torch.zeros_like(self.goals)

    def reset(self) -> torch.Tensor:
        self.pos = torch.zeros_like(self.goals)
        return self.pos.clone()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        self.pos = self.pos + _clip(actions.float())
        reward = -(self.pos - self.goals).norm(dim=-1)
        return self.pos.clone(), reward, reward, torch.zeros_like(reward)

    def oracle_return(self) -> torch.Tensor:
        return oracle_return(self.goals, self.horizon)


class _Box:
    """The part of ``gymnasium.spaces.Box`` metaopt reads, so gymnasium stays optional."""

    def __init__(self, low: float, high: float, shape: tuple[int, ...]) -> None:
        self.low, self.high, self.shape, self.dtype = low, high, shape, np.float32


class Nav2DEnv:
    """One nav2d task as a Gymnasium-API environment (``gymnasium.Env``'s methods and attributes)."""

    def __init__(self, goal: Any, horizon: int = 100) -> None:
        self.goal = np.asarray(goal, dtype=np.float32)
        self.horizon = horizon
        self.observation_space = _Box(-np.inf, np.inf, (2,))
        self.action_space = _Box(-MAX_STEP, MAX_STEP, (2,))
        self._pos = np.zeros(2, dtype=np.float32)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._pos, self._t = np.zeros(2, dtype=np.float32), 0
        return self._pos.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        move = _clip(torch.as_tensor(np.asarray(action, dtype=np.float32))).numpy()
        self._pos = (self._pos + move).astype(np.float32)
        self._t += 1
        reward = -float(np.linalg.norm(self._pos - self.goal))
        return self._pos.copy(), reward, False, self._t >= self.horizon, {}


class _Nav2DFamily:
    """nav2d as a Gymnasium-API family: ``--benchmark gym:metaopt.tasks.nav2d:FAMILY`` plays the same tasks
    through the generic adapter (one environment object per trajectory), the template for a user's own."""

    def sample_task(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-0.5, 0.5, size=2).astype(np.float32)

    def make_env(self, params: Any) -> Nav2DEnv:
        return Nav2DEnv(params)

    def oracle_return(self, params: Any, horizon: int) -> float:
        return float(oracle_return(torch.as_tensor(params, dtype=torch.float32).view(1, 2), horizon)[0])


FAMILY = _Nav2DFamily()
