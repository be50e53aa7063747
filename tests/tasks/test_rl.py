"""Procedural RL task families: bandit and grid-world simulators, regret's oracle, the registry."""

from __future__ import annotations

import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.bandit import BanditEnv
from metaopt.tasks.benchmarks import available_benchmarks, get_benchmark
from metaopt.tasks.gridworld import GridWorldEnv
from metaopt.tasks.rl import make_env, rl_sources, task_uniforms


def test_bandit_rewards_follow_uniforms_and_oracle_is_best_arm():
    probs = torch.tensor([[0.2, 0.9], [0.5, 0.1]])
    uniforms = torch.tensor([[0.3, 0.3], [0.95, 0.05]])
    env = BanditEnv(probs, horizon=2, uniforms=uniforms)
    env.reset()
    _, reward, expected, done = env.step(torch.tensor([1, 0]))
    assert reward.tolist() == [1.0, 1.0] and expected.tolist() == pytest.approx([0.9, 0.5]) and done.all()
    _, reward, _, _ = env.step(torch.tensor([1, 1]))
    assert reward.tolist() == [0.0, 1.0]
    assert env.oracle_return().tolist() == pytest.approx([1.8, 1.0])


def test_bandit_tasks_are_seeded_and_uniform_probabilities():
    src = rl_sources("bandit", size=4, horizon=10)["train"]
    a, b = src.fixed_tasks(200, 3), src.fixed_tasks(200, 3)
    assert all(torch.equal(x.params, y.params) and x.seed == y.seed for x, y in zip(a, b))
    probs = torch.stack([t.params for t in a])
    assert probs.shape == (200, 4) and 0 <= probs.min() and probs.max() <= 1
    assert abs(float(probs.mean()) - 0.5) < 0.05
    assert src.input_size == 4 + 2 and src.n_actions == 4


def test_gridworld_walls_goal_and_respawn():
    # 3x3 grid, start at the centre (cell 4), goal at the top-left corner (cell 0).
    env = GridWorldEnv(torch.tensor([0]), size=3, horizon=10)
    obs = env.reset()
    assert obs.argmax().item() == 4
    up, down, left, right = 0, 1, 2, 3
    obs, reward, _, done = env.step(torch.tensor([up]))
    assert obs.argmax().item() == 1 and reward.item() == 0 and done.item() == 0
    obs, _, _, _ = env.step(torch.tensor([up]))  # the wall holds the agent in place
    assert obs.argmax().item() == 1
    obs, reward, _, done = env.step(torch.tensor([left]))
    assert reward.item() == 1 and done.item() == 1 and obs.argmax().item() == 4  # back at the start
    env.step(torch.tensor([down]))
    env.step(torch.tensor([right]))
    assert env.pos.item() == 8
    assert env.oracle_return().item() == 10 // 2


def test_gridworld_goal_is_never_the_start():
    src = rl_sources("gridworld", size=3, horizon=10)["train"]
    goals = {int(t.params) for t in src.fixed_tasks(300, 0)}
    assert goals == set(range(9)) - {4}


def test_task_draws_do_not_depend_on_the_batch():
    tasks = rl_sources("bandit", size=3, horizon=7)["test"].fixed_tasks(4, 2)
    together = task_uniforms(tasks, 0)
    alone = torch.cat([task_uniforms([t], 0) for t in tasks], dim=1)
    assert torch.equal(together, alone) and not torch.equal(task_uniforms(tasks, 0), task_uniforms(tasks, 1))


def test_mixed_batches_and_bad_sizes_are_refused():
    bandits = rl_sources("bandit", size=3, horizon=7)["test"].fixed_tasks(1, 0)
    longer = rl_sources("bandit", size=3, horizon=8)["test"].fixed_tasks(1, 0)
    with pytest.raises(ConfigError, match="share"):
        make_env(bandits + longer)
    with pytest.raises(ConfigError, match="arms"):
        rl_sources("bandit", size=1, horizon=5)
    with pytest.raises(ConfigError, match="horizon"):
        rl_sources("gridworld", size=5, horizon=0)


def test_registered_as_rl_benchmarks():
    assert {"bandit", "gridworld"} <= set(available_benchmarks())
    bench = get_benchmark("bandit")
    assert bench.kind == "rl"
    sources = bench.sources(ways=10, shots=500, queries=0)
    assert sources["train"].size == 10 and sources["train"].horizon == 500
