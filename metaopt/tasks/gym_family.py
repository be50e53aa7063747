"""A user's Gymnasium environment family as an RL benchmark: ``--benchmark gym:MODULE:FAMILY``.

``FAMILY`` names an object in an importable module with:

* ``sample_task(rng: numpy.random.Generator)`` -> the task's parameters (array-like, one fixed shape);
* ``make_env(params)`` -> an environment with the Gymnasium API: ``reset(seed=...)`` returning
  ``(obs, info)``, ``step(action)`` returning ``(obs, reward, terminated, truncated, info)``, and
  ``action_space`` / ``observation_space`` (``Discrete`` with ``n``, or ``Box`` with ``shape``);
* optionally ``oracle_return(params, horizon)`` -> the best expected return of a trial, so the score is a
  regret; without it regret is measured against 0, i.e. it is minus the return.

A ``gymnasium.Env`` fits as it is; gymnasium itself is not required. A trial is ``horizon`` steps; an
episode that terminates or truncates earlier is reset and play continues (as Gymnasium's vector
environments do), so every trial has the same length. An ``info["expected_reward"]`` is used for regret
when given (a bandit's arm probability), else the reward itself.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.rl import BatchEnv, RLTaskSource

__all__ = ["GymTasks", "GymBatchEnv", "load_family"]


@cache
def load_family(spec: str) -> Any:
    """The family object named by ``gym:MODULE:FAMILY``; one-line ConfigError if it cannot be had."""
    _, module_name, attr = spec.split(":", 2)
    try:
        family = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load environment family {spec!r}: {exc}") from None
    for needed in ("sample_task", "make_env"):
        if not callable(getattr(family, needed, None)):
            raise ConfigError(f"environment family {spec!r} has no {needed}()")
    return family


def _size(space: Any) -> int:
    if hasattr(space, "n"):
        return int(space.n)
    return int(np.prod(space.shape)) if space.shape else 1


def _observe(space: Any, obs: Any) -> torch.Tensor:
    if hasattr(space, "n"):  # a Discrete observation: one-hot
        return torch.nn.functional.one_hot(torch.tensor(int(obs)), int(space.n)).float()
    return torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(-1)


class GymTasks(RLTaskSource):
    """Tasks of a Gymnasium-API family; sizes are read from one environment of the family."""

    def __init__(self, spec: str, horizon: int) -> None:
        self.family = spec
        fam = load_family(spec)
        probe = fam.make_env(fam.sample_task(np.random.default_rng(0)))
        self.continuous = not hasattr(probe.action_space, "n")
        self.action_dim = _size(probe.action_space) if self.continuous else 1
        self._n_actions = 0 if self.continuous else _size(probe.action_space)
        self._obs_size = _size(probe.observation_space)
        super().__init__(0, horizon)

    @property
    def n_actions(self) -> int:
        return self._n_actions

    @property
    def obs_size(self) -> int:
        return self._obs_size

    def task_params(self, rng: np.random.Generator) -> torch.Tensor:
        return torch.as_tensor(np.asarray(load_family(self.family).sample_task(rng), dtype=np.float32))


class GymBatchEnv(BatchEnv):
    """One Gymnasium-API environment per row of ``params``, stepped one after another."""

    def __init__(self, spec: str, params: torch.Tensor, horizon: int, seeds: list[int]) -> None:
        self.family = load_family(spec)
        self.params = params
        self.envs = [self.family.make_env(p.numpy()) for p in params]
        self.seeds = [s % 2**31 for s in seeds]
        self.episodes = [0] * len(self.envs)
        self.horizon = horizon
        space = self.envs[0].action_space
        self.continuous = not hasattr(space, "n")
        self.n_actions = 0 if self.continuous else _size(space)
        self.obs_size = _size(self.envs[0].observation_space)

    def reset(self) -> torch.Tensor:
        self.episodes = [0] * len(self.envs)
        return torch.stack([self._reset(i) for i in range(len(self.envs))])

    def _reset(self, i: int) -> torch.Tensor:
        # Each episode of a trial gets its own seed, derived from the task's: reproducible, never repeated.
        obs, _ = self.envs[i].reset(seed=(self.seeds[i] + 7919 * self.episodes[i]) % 2**31)
        self.episodes[i] += 1
        return _observe(self.envs[i].observation_space, obs)

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        out: list[tuple[torch.Tensor, float, float, float]] = []
        for i, env in enumerate(self.envs):
            action = actions[i].numpy() if self.continuous else int(actions[i])
            obs, reward, terminated, truncated, info = env.step(action)
            done = bool(terminated or truncated)
            expected = float(info.get("expected_reward", reward)) if isinstance(info, dict) else float(reward)
            ob = self._reset(i) if done else _observe(env.observation_space, obs)
            out.append((ob, float(reward), expected, float(done)))
        obs_t = torch.stack([o[0] for o in out])
        return obs_t, *(torch.tensor([o[k] for o in out]) for k in (1, 2, 3))  # type: ignore[return-value]

    def oracle_return(self) -> torch.Tensor:
        oracle = getattr(self.family, "oracle_return", None)
        if oracle is None:
            return torch.zeros(len(self.envs))
        return torch.tensor([float(oracle(p.numpy(), self.horizon)) for p in self.params])
