"""metaopt's RL task families as Gymnasium environments, registered as ``metaopt/Nav2D-v0``,
``metaopt/Bandit-v0`` and ``metaopt/GridWorld-v0`` (see :mod:`metaopt._gymnasium`).

One Gymnasium episode is one metaopt *trial*: ``horizon`` steps of one task, then ``truncated``; nothing
terminates earlier. Inside a trial the families keep their RL^2 meaning: every bandit pull is its own
little episode, and a grid-world agent that reaches the goal is put back at the start and plays on.
``info["expected_reward"]`` is the reward's expectation (a bandit arm's probability; the reward itself
elsewhere), what metaopt's regret is computed from; ``env.unwrapped.oracle_return()`` is the best
expected return of the trial, so ``oracle_return() - sum(expected_reward)`` is metaopt's regret.

The task is a ``make`` keyword (``goal``, ``probs``); left out, it is drawn from the family's task
distribution, with metaopt's own sampler, on the first reset and on every reset given a ``seed``;
a reset without a seed plays the same task again (what a meta-learner's inner loop needs). A reset
can also set it: ``reset(options={"goal": ...})``.

Steps go through metaopt's own batched simulators (:mod:`metaopt.tasks.nav2d`, ``bandit``,
``gridworld``), so a Gymnasium episode and a metaopt trial are the same numbers. The ``...VectorEnv``
classes (the ids' ``vector_entry_point``: ``gymnasium.make_vec(id, num_envs=n)``) run one simulator
over all sub-environments and equal ``SyncVectorEnv`` of the single environments step for step
(sub-environment ``i`` seeded ``seed + i``, next-step autoreset); there a task keyword may also be
given per sub-environment, with a leading ``num_envs`` axis.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from metaopt.errors import ConfigError
from metaopt.tasks.bandit import BanditEnv
from metaopt.tasks.gridworld import GridWorldEnv, _start
from metaopt.tasks.nav2d import MAX_STEP, Nav2DBatchEnv
from metaopt.tasks.rl import BatchEnv

__all__ = ["Nav2D", "Bandit", "GridWorld", "Nav2DVectorEnv", "BanditVectorEnv", "GridWorldVectorEnv"]


class _TaskEnv(gym.Env):
    """One task of a family for ``horizon`` steps; subclasses say how a task is checked, drawn and simulated."""

    metadata: dict[str, Any] = {"render_modes": []}
    task_key: str  # the make / reset-option keyword that holds the task

    def __init__(self, task: Any, horizon: int) -> None:
        if not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ConfigError(f"horizon must be a positive integer, got {horizon!r}")
        self.horizon = int(horizon)
        self._fixed = None if task is None else self._check(task)
        self.task: np.ndarray | None = None
        self._sim: BatchEnv | None = None
        self._t = 0

    # --- what a family defines, over batches so the vector environment shares them ---
    def _check(self, value: Any) -> np.ndarray:
        raise NotImplementedError

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _simulator(self, tasks: np.ndarray, rngs: list[np.random.Generator]) -> BatchEnv:
        raise NotImplementedError

    def _observe(self, sim: BatchEnv, obs: torch.Tensor) -> np.ndarray:
        return obs.numpy()

    def _act(self, actions: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(actions)

    def _next_task(self, current: np.ndarray | None, rng: np.random.Generator, seeded: bool,
                   options: dict[str, Any] | None) -> np.ndarray:
        if options and options.get(self.task_key) is not None:
            return self._check(options[self.task_key])
        if self._fixed is not None:
            return self._fixed
        return self._draw(rng) if seeded or current is None else current

    # --- gymnasium.Env ---
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.task = self._next_task(self.task, self.np_random, seed is not None, options)
        self._sim = self._simulator(self.task[None], [self.np_random])
        self._t = 0
        return self._observe(self._sim, self._sim.reset())[0], {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self._sim is None or self._t >= self.horizon:
            raise RuntimeError("the trial is over (or never started): call reset() before step()")
        obs, reward, expected, _ = self._sim.step(self._act(np.asarray(action)[None]))
        self._t += 1
        return (self._observe(self._sim, obs)[0], float(reward[0]), False, self._t >= self.horizon,
                {"expected_reward": float(expected[0])})

    def oracle_return(self) -> float:
        """The best expected return of this trial (of an agent that knows the task)."""
        if self._sim is None:
            raise RuntimeError("call reset() before oracle_return()")
        return float(self._sim.oracle_return()[0])


class Nav2D(_TaskEnv):
    """MAML's 2-D point navigation: start at the origin, reach the hidden ``goal`` (drawn from
    ``U[-0.5, 0.5]^2`` if not given); an action is a displacement, scaled to length 0.1 if longer;
    reward minus the distance to the goal after the move."""

    task_key = "goal"

    def __init__(self, goal: Any = None, horizon: int = 100) -> None:
        super().__init__(goal, horizon)
        # one step of slack: horizon full-length moves in float32 can land a hair beyond 0.1 * horizon
        bound = MAX_STEP * (self.horizon + 1)
        self.observation_space = spaces.Box(-bound, bound, (2,), np.float32)
        self.action_space = spaces.Box(-MAX_STEP, MAX_STEP, (2,), np.float32)

    def _check(self, value: Any) -> np.ndarray:
        goal = np.asarray(value, dtype=np.float32)
        if goal.shape != (2,) or not np.isfinite(goal).all():
            raise ConfigError(f"goal must be 2 finite numbers, got {value!r}")
        return goal

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-0.5, 0.5, size=2).astype(np.float32)  # Nav2DTasks.task_params

    def _simulator(self, tasks: np.ndarray, rngs: list[np.random.Generator]) -> BatchEnv:
        return Nav2DBatchEnv(torch.as_tensor(tasks), self.horizon)

    def _act(self, actions: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(actions, dtype=torch.float32).reshape(-1, 2)


class Bandit(_TaskEnv):
    """A Bernoulli bandit (RL^2): arm ``i`` pays 1 with probability ``probs[i]`` (drawn ``U[0, 1]`` for
    ``arms`` arms if not given). There is no state to observe: the observation is always 0."""

    task_key = "probs"

    def __init__(self, probs: Any = None, arms: int | None = None, horizon: int = 100) -> None:
        if arms is not None and (not isinstance(arms, (int, np.integer)) or arms < 2):
            raise ConfigError(f"a bandit needs at least 2 arms, got {arms!r}")
        self.arms = arms  # None until known: then ``probs`` sets it
        super().__init__(probs, horizon)
        self.arms = len(self._fixed) if self._fixed is not None else int(arms or 5)
        self.observation_space = spaces.Discrete(1)
        self.action_space = spaces.Discrete(self.arms)

    def _check(self, value: Any) -> np.ndarray:
        probs = np.asarray(value, dtype=np.float32)
        if probs.ndim != 1 or len(probs) < 2 or not ((probs >= 0) & (probs <= 1)).all():
            raise ConfigError(f"probs must be at least 2 probabilities in [0, 1], got {value!r}")
        if self.arms is not None and len(probs) != self.arms:
            raise ConfigError(f"probs has {len(probs)} arms, not arms={self.arms}")
        return probs

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, 1.0, size=self.arms).astype(np.float32)  # BanditTasks.task_params

    def _simulator(self, tasks: np.ndarray, rngs: list[np.random.Generator]) -> BatchEnv:
        # each sub-environment's reward draws come from its own generator, as a lone environment's would
        uniforms = np.stack([rng.random(self.horizon, dtype=np.float32) for rng in rngs], axis=1)
        return BanditEnv(torch.as_tensor(tasks), self.horizon, torch.as_tensor(uniforms))

    def _observe(self, sim: BatchEnv, obs: torch.Tensor) -> np.ndarray:
        return np.zeros(obs.shape[0], dtype=np.int64)

    def _act(self, actions: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(actions, dtype=torch.long).reshape(-1)


class GridWorld(_TaskEnv):
    """A ``size x size`` grid with a hidden ``goal`` cell ``(row, column)`` (drawn uniformly among the
    cells other than the centre start if not given). Actions 0-3 move up, down, left, right; walls block;
    reaching the goal pays 1 and puts the agent back at the start. The observation is the agent's cell,
    ``row * size + column``."""

    task_key = "goal"

    def __init__(self, goal: Any = None, size: int = 5, horizon: int = 50) -> None:
        if not isinstance(size, (int, np.integer)) or size < 2:
            raise ConfigError(f"grid side must be at least 2, got {size!r}")
        self.size = int(size)
        super().__init__(goal, horizon)
        self.observation_space = spaces.Discrete(self.size * self.size)
        self.action_space = spaces.Discrete(4)

    def _check(self, value: Any) -> np.ndarray:
        rc = np.asarray(value)
        if rc.shape != (2,) or not np.issubdtype(rc.dtype, np.integer) or not ((0 <= rc) & (rc < self.size)).all():
            raise ConfigError(f"goal must be a (row, column) cell of the {self.size}x{self.size} grid, got {value!r}")
        if rc[0] * self.size + rc[1] == _start(self.size):
            raise ConfigError(f"goal {tuple(rc.tolist())} is the start cell")
        return rc.astype(np.int64)

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        cells = [c for c in range(self.size * self.size) if c != _start(self.size)]  # GridWorldTasks.task_params
        return np.array(divmod(cells[int(rng.integers(len(cells)))], self.size), dtype=np.int64)

    def _simulator(self, tasks: np.ndarray, rngs: list[np.random.Generator]) -> BatchEnv:
        return GridWorldEnv(torch.as_tensor(tasks[:, 0] * self.size + tasks[:, 1]), self.size, self.horizon)

    def _observe(self, sim: BatchEnv, obs: torch.Tensor) -> np.ndarray:
        return sim.pos.numpy().astype(np.int64)  # type: ignore[attr-defined]

    def _act(self, actions: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(actions, dtype=torch.long).reshape(-1)


class _TaskVectorEnv(VectorEnv):
    """``num_envs`` environments of one family on one batched simulator (see the module docstring)."""

    env_class: type[_TaskEnv]
    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ConfigError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.num_envs = int(num_envs)
        key = self.env_class.task_key
        task = kwargs.get(key)
        if task is not None and np.ndim(task) == 2:  # per sub-environment: the first one fixes the sizes
            kwargs[key] = task[0]
        self._proto = self.env_class(**kwargs)  # checks the keywords; its methods serve every sub-environment
        self._fixed = None if task is None else self._tasks(task)
        self.single_observation_space = self._proto.observation_space
        self.single_action_space = self._proto.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.horizon = self._proto.horizon
        self.render_mode = None
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self.tasks: list[np.ndarray | None] = [None] * self.num_envs
        self._sim: BatchEnv | None = None
        self._t = 0
        self._autoreset = False

    def _tasks(self, value: Any) -> list[np.ndarray]:
        """One task for every sub-environment, or one per sub-environment (leading ``num_envs`` axis)."""
        per_env = np.ndim(value) == 2
        if per_env and len(value) != self.num_envs:
            raise ConfigError(f"{self.env_class.task_key} has {len(value)} tasks for {self.num_envs} environments")
        return [self._proto._check(v) for v in value] if per_env else [self._proto._check(value)] * self.num_envs

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else seed or [None] * self.num_envs
        if len(seeds) != self.num_envs:
            raise ConfigError(f"{len(seeds)} seeds for {self.num_envs} environments")
        if options and "reset_mask" in options:
            raise ConfigError("reset_mask is not supported: the sub-environments play their trials in lockstep")
        key = self.env_class.task_key
        given = self._tasks(options[key]) if options and options.get(key) is not None else None
        for i, s in enumerate(seeds):
            if s is not None or self._rngs[i] is None:  # as gymnasium.Env.reset seeds np_random
                self._rngs[i] = seeding.np_random(s)[0]
            rng = self._rngs[i]
            assert rng is not None
            if given is not None:
                self.tasks[i] = given[i]
            elif self._fixed is not None:
                self.tasks[i] = self._fixed[i]
            elif s is not None or self.tasks[i] is None:
                self.tasks[i] = self._proto._draw(rng)
        return self._restart(), {}

    def _restart(self) -> np.ndarray:
        self._sim = self._proto._simulator(np.stack(self.tasks), self._rngs)  # type: ignore[arg-type]
        self._t, self._autoreset = 0, False
        return self._proto._observe(self._sim, self._sim.reset())

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._sim is None:
            raise RuntimeError("call reset() before step()")
        n = self.num_envs
        if self._autoreset:  # next-step autoreset: this step's actions are ignored, as in SyncVectorEnv
            return self._restart(), np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), {}
        obs, reward, expected, _ = self._sim.step(self._proto._act(np.asarray(actions)))
        self._t += 1
        self._autoreset = self._t >= self.horizon
        infos: dict[str, Any] = {}
        for i, e in enumerate(expected.tolist()):
            infos = self._add_info(infos, {"expected_reward": e}, i)
        return (self._proto._observe(self._sim, obs), reward.double().numpy(), np.zeros(n, bool),
                np.full(n, self._autoreset), infos)

    def oracle_return(self) -> np.ndarray:
        """The best expected return of each sub-environment's trial ``[num_envs]``."""
        if self._sim is None:
            raise RuntimeError("call reset() before oracle_return()")
        return self._sim.oracle_return().double().numpy()


class Nav2DVectorEnv(_TaskVectorEnv):
    env_class = Nav2D


class BanditVectorEnv(_TaskVectorEnv):
    env_class = Bandit


class GridWorldVectorEnv(_TaskVectorEnv):
    env_class = GridWorld
