"""Bandit baselines of the RL^2 paper's table: UCB1, Thompson sampling and uniform random play.

Each plays a batch of tasks through the same batched environment RL^2 uses, so regrets are
measured identically (expected-reward pseudo-regret; see ``metaopt.tasks.bandit``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.rl import RLTask, make_env

__all__ = ["BASELINES", "play_baseline", "ucb1_action", "thompson_action"]

# (pull counts [B, k], reward sums [B, k], step t (0-based), rng) -> actions [B]
ActionRule = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]


def ucb1_action(counts: np.ndarray, sums: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    """UCB1 (Auer et al. 2002): pull every arm once, then argmax mean + sqrt(2 ln t / n)."""
    unpulled = counts == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        index = sums / counts + np.sqrt(2.0 * np.log(max(t, 1)) / counts)
    index = np.where(unpulled, np.inf, index)
    # Ties (several unpulled arms) go to the lowest index, as in the textbook statement.
    return index.argmax(axis=1)


def thompson_action(counts: np.ndarray, sums: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    """Thompson sampling with a uniform Beta(1, 1) prior on every arm."""
    return rng.beta(1.0 + sums, 1.0 + counts - sums).argmax(axis=1)


def _random_action(counts: np.ndarray, sums: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(counts.shape[1], size=counts.shape[0])


BASELINES: dict[str, ActionRule] = {"ucb1": ucb1_action, "thompson": thompson_action, "random": _random_action}


def play_baseline(name: str, tasks: Sequence[RLTask], seed: int = 0) -> torch.Tensor:
    """Regret ``[B]`` of baseline ``name`` on one trial of each task (bandits; ``random`` plays any family).

    Rewards are the tasks' own draws (as RL^2 meets them); ``seed`` drives the baseline's own choices."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    if name != "random" and tasks[0].family != "bandit":
        raise ConfigError(f"baseline {name!r} plays bandits only, not {tasks[0].family!r}")
    env = make_env(tasks)
    rng = np.random.default_rng(seed)
    rule = BASELINES[name]
    counts = np.zeros((len(tasks), env.n_actions))
    sums = np.zeros_like(counts)
    env.reset()
    total = torch.zeros(len(tasks))
    rows = np.arange(len(tasks))
    for t in range(env.horizon):
        actions = rule(counts, sums, t, rng)
        _, reward, expected, _ = env.step(torch.as_tensor(actions, dtype=torch.long))
        counts[rows, actions] += 1
        sums[rows, actions] += reward.numpy()
        total += expected
    return env.oracle_return() - total
