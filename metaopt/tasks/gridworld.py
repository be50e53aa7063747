"""A small grid world with a hidden goal: the navigation half of the RL^2 task families.

The agent starts in the centre of a ``size x size`` grid (the corner-free start keeps every
goal within ``size - 1`` steps) and moves up/down/left/right; walls block. The goal is a cell
other than the start, drawn uniformly and never observed. Reaching it pays 1, ends the episode
and puts the agent back at the start; the trial lasts ``horizon`` steps. An oracle that knows
the goal at Manhattan distance ``d`` collects ``horizon // d``; the agent must first search,
then remember where the goal was (that memory is what RL^2's hidden state is for).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from metaopt.errors import ConfigError
from metaopt.tasks.rl import BatchEnv, RLTaskSource

__all__ = ["GridWorldTasks", "GridWorldEnv", "MOVES"]

MOVES = torch.tensor([[-1, 0], [1, 0], [0, -1], [0, 1]])  # up, down, left, right as (row, column)


class GridWorldTasks(RLTaskSource):
    family = "gridworld"

    def __init__(self, size: int, horizon: int) -> None:
        if size < 2:
            raise ConfigError(f"grid side must be at least 2, got {size}")
        super().__init__(size, horizon)

    @property
    def n_actions(self) -> int:
        return 4

    @property
    def obs_size(self) -> int:
        return self.size * self.size

    def task_params(self, rng: np.random.Generator) -> torch.Tensor:
        start = _start(self.size)
        cells = [c for c in range(self.size * self.size) if c != start]
        return torch.tensor(cells[int(rng.integers(len(cells)))])


def _start(size: int) -> int:
    return (size // 2) * size + size // 2


class GridWorldEnv(BatchEnv):
    """``goals`` ``[B]`` cell indices (row * size + column). Observations are one-hot positions."""

    n_actions = 4

    def __init__(self, goals: torch.Tensor, size: int, horizon: int) -> None:
        self.goals = goals.long().view(-1)
        self.size = size
        self.obs_size = size * size
        self.horizon = horizon
        self.start = _start(size)
        self.pos = torch.full_like(self.goals, self.start)

    def _obs(self) -> torch.Tensor:
        return F.one_hot(self.pos, self.obs_size).float()

    def reset(self) -> torch.Tensor:
        self.pos = torch.full_like(self.goals, self.start)
        return self._obs()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        rc = torch.stack([self.pos // self.size, self.pos % self.size], dim=1) + MOVES[actions]
        rc = rc.clamp(0, self.size - 1)
        self.pos = rc[:, 0] * self.size + rc[:, 1]
        reached = self.pos == self.goals
        self.pos = torch.where(reached, torch.full_like(self.pos, self.start), self.pos)
        reward = reached.float()
        return self._obs(), reward, reward, reward

    def oracle_return(self) -> torch.Tensor:
        s = self.size
        dist = (self.goals // s - self.start // s).abs() + (self.goals % s - self.start % s).abs()
        return (self.horizon // dist).float()
