"""A hand-designed grid-world baseline: systematic search for the hidden goal, then shuttling to it.

``search`` knows the rules (the goal is a fixed cell, reaching it sends the agent back to the start)
but not the goal. It walks to the nearest cell it has not yet stood on until it is paid, then
takes the shortest path to the remembered goal in every later episode. That is the behaviour
RL^2's hidden state has to discover, so its regret is a target for RL^2, as the oracle (regret 0,
it knows the goal from the first step) is a bound.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.gridworld import MOVES
from metaopt.tasks.rl import RLTask, make_env

__all__ = ["GRID_BASELINES", "play_search", "step_towards"]


def step_towards(pos: int, target: int, size: int) -> int:
    """An action (index into ``MOVES``) that shortens the Manhattan distance from ``pos`` to ``target``
    (rows first); the grid has no inner walls, so such a move always exists when they differ."""
    dr = target // size - pos // size
    dc = target % size - pos % size
    if dr:
        return 0 if dr < 0 else 1
    if dc:
        return 2 if dc < 0 else 3
    raise ConfigError(f"step_towards needs two different cells, got {pos} twice")


def _nearest(pos: int, cells: np.ndarray, size: int) -> int:
    dist = np.abs(cells // size - pos // size) + np.abs(cells % size - pos % size)
    return int(cells[dist.argmin()])  # ties go to the lowest cell index: deterministic


def play_search(tasks: Sequence[RLTask], seed: int = 0) -> torch.Tensor:
    """Regret ``[B]`` of search-then-shuttle on one trial of each grid-world task (``seed`` unused:
    the rule is deterministic; kept for the same signature as the other baselines)."""
    if tasks[0].family != "gridworld":
        raise ConfigError(f"baseline 'search' plays grid worlds only, not {tasks[0].family!r}")
    env = make_env(tasks)
    size = tasks[0].size
    moves = MOVES.numpy()
    obs = env.reset()
    pos = obs.argmax(1).numpy()
    visited = np.zeros((len(tasks), size * size), dtype=bool)
    visited[np.arange(len(tasks)), pos] = True
    goal = np.full(len(tasks), -1)
    total = torch.zeros(len(tasks))
    for _ in range(env.horizon):
        actions = np.empty(len(tasks), dtype=np.int64)
        for b in range(len(tasks)):
            target = goal[b] if goal[b] >= 0 else _nearest(pos[b], np.flatnonzero(~visited[b]), size)
            actions[b] = step_towards(int(pos[b]), int(target), size)
        rc = np.stack([pos // size, pos % size], 1) + moves[actions]
        moved = np.clip(rc, 0, size - 1) @ np.array([size, 1])
        obs, reward, expected, _ = env.step(torch.as_tensor(actions))
        paid = reward.numpy() > 0
        goal = np.where(paid, moved, goal)
        visited[np.arange(len(tasks)), moved] = True
        pos = obs.argmax(1).numpy()
        total += expected
    return env.oracle_return() - total


GRID_BASELINES = {"search": play_search}
