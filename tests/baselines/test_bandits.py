"""UCB1, Thompson sampling and random play on Bernoulli bandits."""

from __future__ import annotations

import numpy as np
import pytest

from metaopt.baselines import play_baseline
from metaopt.baselines.bandits import ucb1_action
from metaopt.errors import ConfigError
from metaopt.tasks.rl import rl_sources


def test_ucb1_pulls_every_arm_once_then_prefers_the_better_mean():
    rng = np.random.default_rng(0)
    counts, sums = np.zeros((1, 3)), np.zeros((1, 3))
    for t in range(3):
        arm = ucb1_action(counts, sums, t, rng)[0]
        assert counts[0, arm] == 0
        counts[0, arm] += 1
        sums[0, arm] += 1.0 if arm == 2 else 0.0
    assert ucb1_action(counts, sums, 3, rng)[0] == 2


def test_bandit_algorithms_beat_random_play():
    tasks = rl_sources("bandit", size=5, horizon=100)["test"].fixed_tasks(200, 2)
    regret = {name: float(play_baseline(name, tasks, seed=0).mean()) for name in ("random", "ucb1", "thompson")}
    # Random play loses about horizon * (E[max of 5 uniforms] - 1/2) = 100 * (5/6 - 1/2) ≈ 33.
    assert 28 < regret["random"] < 38
    assert regret["thompson"] < regret["ucb1"] < 0.7 * regret["random"]


def test_regret_is_nonnegative_in_expectation_and_seeded():
    tasks = rl_sources("bandit", size=3, horizon=30)["test"].fixed_tasks(50, 2)
    a, b = play_baseline("thompson", tasks, seed=1), play_baseline("thompson", tasks, seed=1)
    assert a.tolist() == b.tolist() and (a >= -1e-5).all()


def test_refusals():
    grid = rl_sources("gridworld", size=3, horizon=10)["test"].fixed_tasks(3, 2)
    with pytest.raises(ConfigError, match="bandits only"):
        play_baseline("ucb1", grid)
    assert play_baseline("random", grid).shape == (3,)
    with pytest.raises(ConfigError, match="gittins"):
        play_baseline("gittins", grid)
