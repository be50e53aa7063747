"""The grid-world search-then-shuttle baseline: its moves, and its regret between the oracle and random play."""

from __future__ import annotations

import pytest
import torch

from metaopt.baselines import play_baseline, play_search
from metaopt.baselines.gridworld import step_towards
from metaopt.errors import ConfigError
from metaopt.tasks.gridworld import GridWorldEnv
from metaopt.tasks.rl import RLTask, rl_sources


def test_step_towards_shortens_the_manhattan_distance():
    size = 5
    for pos in range(size * size):
        for target in range(size * size):
            if pos == target:
                continue
            action = step_towards(pos, target, size)
            env = GridWorldEnv(torch.tensor([-1]), size, 1)  # goal off the grid: never paid
            env.pos = env.pos.fill_(pos)
            env.step(torch.tensor([action]))
            new = int(env.pos[0])
            before = abs(pos // size - target // size) + abs(pos % size - target % size)
            after = abs(new // size - target // size) + abs(new % size - target % size)
            assert after == before - 1
    with pytest.raises(ConfigError, match="different cells"):
        step_towards(3, 3, size)


def test_search_shuttles_at_the_oracle_rate_once_the_goal_is_found():
    # 3x3 grid, start in the centre (cell 4); a goal next to the start is found on the first
    # step (nearest unvisited cell, lowest index first: cell 1 is above the start).
    task = RLTask("gridworld", torch.tensor(1), 3, 20, seed=0)
    assert float(play_search([task])[0]) == pytest.approx(0.0)  # 20 // 1 reached: the oracle's return
    far = RLTask("gridworld", torch.tensor(8), 3, 20, seed=0)  # a corner: found after some search
    assert 0 < float(play_search([far])[0]) < 10 // 2


def test_search_beats_random_play_on_fixed_tasks():
    tasks = rl_sources("gridworld", size=5, horizon=50)["test"].fixed_tasks(200, 2)
    search = play_search(tasks)
    random = play_baseline("random", tasks, seed=0)
    assert (search >= -1e-6).all()  # never better than the oracle
    assert float(search.mean()) < 0.5 * float(random.mean())
    with pytest.raises(ConfigError, match="grid worlds only"):
        play_search(rl_sources("bandit", size=3, horizon=5)["test"].fixed_tasks(2, 2))
