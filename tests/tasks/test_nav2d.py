"""nav2d and the Gymnasium-API family adapter: dynamics, the exact oracle, a real gymnasium.Env family."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from metaopt.cli import main
from metaopt.errors import ConfigError
from metaopt.runs import RunConfig, build_run
from metaopt.tasks.gym_family import GymBatchEnv
from metaopt.tasks.nav2d import MAX_STEP, Nav2DBatchEnv, oracle_return
from metaopt.tasks.rl import rl_sources


def _play(goals: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    env = Nav2DBatchEnv(goals, horizon=len(actions))
    env.reset()
    return torch.stack([env.step(a)[1] for a in actions]).sum(0)


def test_moves_are_clipped_and_reward_is_minus_distance():
    env = Nav2DBatchEnv(torch.tensor([[0.3, 0.4]]), horizon=3)
    env.reset()
    obs, reward, expected, _ = env.step(torch.tensor([[3.0, 4.0]]))
    torch.testing.assert_close(obs, torch.tensor([[0.06, 0.08]]))  # length 0.1, same direction
    torch.testing.assert_close(reward, -torch.tensor([0.4]))
    assert torch.equal(reward, expected)


def test_oracle_is_walking_straight_and_nothing_beats_it():
    goals = torch.tensor([[0.3, -0.4], [0.05, 0.0]])
    horizon = 8
    straight = torch.stack([goals / goals.norm(dim=1, keepdim=True) * torch.minimum(
        torch.full((2, 1), MAX_STEP), (goals.norm(dim=1, keepdim=True) - MAX_STEP * t).clamp(min=0))
        for t in range(horizon)])
    torch.testing.assert_close(_play(goals, straight), oracle_return(goals, horizon))
    torch.testing.assert_close(oracle_return(goals, horizon)[1], torch.tensor(0.0))  # reached in one step
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        random = torch.randn(horizon, 2, 2, generator=g) * 0.2
        assert (_play(goals, random) <= oracle_return(goals, horizon) + 1e-6).all()


def test_gym_adapter_plays_the_same_environment_as_the_native_batch():
    tasks = rl_sources("gym:metaopt.tasks.nav2d:FAMILY", size=None, horizon=5)["test"].fixed_tasks(3, 0)
    params = torch.stack([t.params for t in tasks])
    gym_env, native = GymBatchEnv(tasks[0].family, params, 5, [0, 1, 2]), Nav2DBatchEnv(params, 5)
    torch.testing.assert_close(gym_env.reset(), native.reset())
    for a in torch.randn(5, 3, 2, generator=torch.Generator().manual_seed(1)):
        for x, y in zip(gym_env.step(a), native.step(a)):
            torch.testing.assert_close(x.float(), y.float())
    torch.testing.assert_close(gym_env.oracle_return(), native.oracle_return())


def _chain_module():
    """A real ``gymnasium.Env`` family: a 5-cell chain, the task is which end pays; episodes end there."""
    gymnasium = pytest.importorskip("gymnasium")

    class Chain(gymnasium.Env):
        def __init__(self, goal_right: float) -> None:
            self.goal = 4 if goal_right > 0.5 else 0
            self.observation_space = gymnasium.spaces.Discrete(5)
            self.action_space = gymnasium.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.pos = 2
            return self.pos, {}

        def step(self, action):
            self.pos = int(np.clip(self.pos + (1 if action == 1 else -1), 0, 4))
            done = self.pos == self.goal
            return self.pos, float(done), done, False, {}

    class Family:
        def sample_task(self, rng):
            return [float(rng.integers(2))]

        def make_env(self, params):
            return Chain(params[0])

        def oracle_return(self, params, horizon):
            return float(horizon // 2)

    module = types.ModuleType("_metaopt_chain_family")
    module.FAMILY = Family()
    return module


def test_a_gymnasium_env_family_trains_and_scores(monkeypatch):
    monkeypatch.setitem(sys.modules, "_metaopt_chain_family", _chain_module())
    run = build_run(RunConfig("maml-rl", "gym:_metaopt_chain_family:FAMILY", shots=8,
                              learner={"episodes": 3, "outer_epochs": 1, "hidden": 8},
                              train={"iterations": 2, "meta_batch": 2, "val_every": 2, "val_tasks": 2}))
    src = run.sources["train"]
    assert (src.obs_size, src.n_actions, src.continuous) == (5, 2, False)
    trainer = run.trainer(progress=False)
    trainer.fit()
    result = trainer.evaluate("test", 3)
    assert result.metric == "regret" and 0 <= result.mean <= 4  # at most the oracle's 8 // 2 goals


def test_bad_family_is_one_line_exit_2(capsys):
    with pytest.raises(ConfigError, match="no_such_module"):
        build_run(RunConfig("maml-rl", "gym:no_such_module:FAMILY"))
    with pytest.raises(SystemExit) as exc:
        main(["train", "--algorithm", "maml-rl", "--benchmark", "gym:metaopt.tasks.nav2d:NOPE", "--iterations", "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "NOPE" in err and "Traceback" not in err
