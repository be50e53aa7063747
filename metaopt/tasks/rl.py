"""Procedurally generated reinforcement-learning task families (no download): the RL^2 setting.

A task is one environment instance (a bandit's arm probabilities, a grid world's hidden goal)
played for a fixed number of steps, its *trial*. Environments are simulated in batches of tasks
so a recurrent policy can be rolled out over a whole meta-batch at once. Every trial is scored
by its regret: the expected return of an oracle that knows the task, minus the agent's expected
return (lower is better; 0 is the oracle).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.base import TaskSource

__all__ = ["RLTask", "BatchEnv", "RLTaskSource", "make_env", "rl_sources", "policy_input_size", "task_uniforms"]


@dataclass(frozen=True)
class RLTask:
    """One environment instance. ``params`` are the task's hidden parameters (arm probabilities
    ``[k]`` for a bandit, the goal cell for a grid world); ``seed`` drives its random rewards."""

    family: str
    params: torch.Tensor
    size: int  # arms (bandit) or grid side (grid world)
    horizon: int  # steps in one trial
    seed: int
    kind: str = "rl"
    n_way: None = None

    def to(self, device: torch.device | str) -> RLTask:
        return dataclasses.replace(self, params=self.params.to(device))


class BatchEnv(ABC):
    """A batch of environments stepped together. Observations exclude the previous action,
    reward and done flag: the policy adds those itself (RL^2's input)."""

    n_actions: int
    obs_size: int
    horizon: int

    @abstractmethod
    def reset(self) -> torch.Tensor:
        """Start the trial; returns observations ``[B, obs_size]``."""

    @abstractmethod
    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Apply ``actions`` ``[B]``; returns (observation, reward, expected reward, episode done)."""

    @abstractmethod
    def oracle_return(self) -> torch.Tensor:
        """Expected trial return ``[B]`` of the best policy that knows each task."""


def policy_input_size(obs_size: int, n_actions: int) -> int:
    """Observation, one-hot previous action, previous reward, previous done flag."""
    return obs_size + n_actions + 2


class RLTaskSource(TaskSource):
    """Samples tasks of one family; ``size`` and ``horizon`` are fixed per source."""

    kind = "rl"
    n_way = None
    family: str

    def __init__(self, size: int, horizon: int) -> None:
        if horizon < 1:
            raise ConfigError(f"horizon must be a positive integer, got {horizon}")
        self.size = size
        self.horizon = horizon

    @property
    @abstractmethod
    def n_actions(self) -> int: ...

    @property
    @abstractmethod
    def obs_size(self) -> int: ...

    @property
    def input_size(self) -> int:
        return policy_input_size(self.obs_size, self.n_actions)

    @abstractmethod
    def task_params(self, rng: np.random.Generator) -> torch.Tensor: ...

    def sample(self, rng: np.random.Generator) -> RLTask:  # type: ignore[override]
        params = self.task_params(rng)
        return RLTask(self.family, params, self.size, self.horizon, int(rng.integers(2**62)))


def task_uniforms(tasks: Sequence[RLTask], stream: int) -> torch.Tensor:
    """``[horizon, B]`` uniforms from each task's own seed: a task's random draws are the same
    whether it is played alone or in a batch, and every method meets the same reward draws."""
    return torch.stack(
        [torch.rand(t.horizon, generator=torch.Generator().manual_seed((t.seed + stream) % 2**63)) for t in tasks],
        dim=1,
    )


def make_env(tasks: Sequence[RLTask]) -> BatchEnv:
    """One batched environment for ``tasks`` (all of one family, size and horizon)."""
    first = tasks[0]
    if any((t.family, t.size, t.horizon) != (first.family, first.size, first.horizon) for t in tasks):
        raise ConfigError("a batch of RL tasks must share family, size and horizon")
    params = torch.stack([t.params for t in tasks])
    if first.family == "bandit":
        from metaopt.tasks.bandit import BanditEnv

        return BanditEnv(params, first.horizon, task_uniforms(tasks, 0))
    if first.family == "gridworld":
        from metaopt.tasks.gridworld import GridWorldEnv

        return GridWorldEnv(params, first.size, first.horizon)
    if first.family == "nav2d":
        from metaopt.tasks.nav2d import Nav2DBatchEnv

        return Nav2DBatchEnv(params, first.horizon)
    if first.family.startswith("gym:"):
        from metaopt.tasks.gym_family import GymBatchEnv

        return GymBatchEnv(first.family, params, first.horizon, [t.seed for t in tasks])
    raise ConfigError(f"unknown RL task family {first.family!r}")


def rl_sources(family: str, *, size: int, horizon: int) -> dict[str, RLTaskSource]:
    """Train/val/test sources: every split draws from the same task distribution (as for
    sinusoids); the trainer keeps them apart by seed stream."""
    if family == "bandit":
        from metaopt.tasks.bandit import BanditTasks

        src: RLTaskSource = BanditTasks(size, horizon)
    elif family == "gridworld":
        from metaopt.tasks.gridworld import GridWorldTasks

        src = GridWorldTasks(size, horizon)
    elif family == "nav2d":
        from metaopt.tasks.nav2d import Nav2DTasks

        src = Nav2DTasks(horizon)
    elif family.startswith("gym:"):
        from metaopt.tasks.gym_family import GymTasks

        src = GymTasks(family, horizon)
    else:
        raise ConfigError(f"unknown RL task family {family!r}")
    return {"train": src, "val": src, "test": src}
