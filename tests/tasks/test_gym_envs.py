"""The registered Gymnasium environments: env checker, make keywords, seeding, vector environments, and
the same numbers as metaopt's own batched simulators."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

gym = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

import metaopt  # noqa: E402, F401  (registers the ids)
from metaopt.errors import ConfigError  # noqa: E402
from metaopt.tasks.rl import make_env, rl_sources  # noqa: E402

IDS = ["metaopt/Nav2D-v0", "metaopt/Bandit-v0", "metaopt/GridWorld-v0"]


def _play(env, actions):
    """Rewards, observations and expected rewards of ``actions`` from the current state."""
    out = []
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        out.append((np.asarray(obs).tolist(), reward, terminated, truncated, info.get("expected_reward")))
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_env_checker_passes_without_warnings(env_id):
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
        env.reset(seed=0)
        for _ in range(env.unwrapped.horizon):  # the passive checker's per-step checks over a whole episode
            *_, truncated, _ = env.step(env.action_space.sample())
    assert [str(w.message) for w in caught] == []
    assert truncated
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.action_space.sample())
    assert isinstance(env.unwrapped, gym.Env)


def test_make_keywords_set_the_task():
    env = gym.make("metaopt/Nav2D-v0", goal=(0.3, -0.4), horizon=3)
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0.0, 0.0] and env.unwrapped.task.tolist() == pytest.approx([0.3, -0.4])
    obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], np.float32))
    assert obs.tolist() == pytest.approx([0.1, 0.0]) and reward == pytest.approx(-np.hypot(0.2, 0.4))
    assert info["expected_reward"] == reward and not terminated and not truncated
    env.step(np.zeros(2, np.float32))
    assert env.step(np.zeros(2, np.float32))[3]  # truncated after horizon steps
    assert env.unwrapped.oracle_return() == pytest.approx(-(0.4 + 0.3 + 0.2))  # |goal| = 0.5, walking straight

    bandit = gym.make("metaopt/Bandit-v0", probs=[0.0, 1.0, 0.5], horizon=4)
    bandit.reset(seed=0)
    assert bandit.action_space.n == 3 and bandit.unwrapped.oracle_return() == 4.0
    assert [r for _, r, *_ in _play(bandit, [1, 1, 0, 0])] == [1.0, 1.0, 0.0, 0.0]
    assert gym.make("metaopt/Bandit-v0", arms=7).action_space.n == 7

    grid = gym.make("metaopt/GridWorld-v0", goal=(0, 0), size=3, horizon=10)
    assert grid.reset(seed=0)[0] == 4 and grid.observation_space.n == 9
    up, left = 0, 2
    steps = _play(grid, [up, left])
    assert steps[0][0] == 1 and steps[1][:2] == (4, 1.0)  # reached: paid and back at the start
    assert grid.unwrapped.oracle_return() == 10 // 2


@pytest.mark.parametrize("env_id, kwargs, match", [
    ("metaopt/Nav2D-v0", {"goal": (1.0, 2.0, 3.0)}, "goal"),
    ("metaopt/Nav2D-v0", {"horizon": 0}, "horizon"),
    ("metaopt/Bandit-v0", {"probs": [0.5, 1.5]}, "probs"),
    ("metaopt/Bandit-v0", {"probs": [0.5, 0.5], "arms": 3}, "arms"),
    ("metaopt/GridWorld-v0", {"goal": (2, 2)}, "start"),
    ("metaopt/GridWorld-v0", {"goal": (0, 5)}, "cell"),
    ("metaopt/GridWorld-v0", {"size": 1}, "side"),
])
def test_bad_keywords_are_one_value_error(env_id, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", IDS)
def test_reset_under_a_seed_is_deterministic_and_unseeded_resets_keep_the_task(env_id):
    env = gym.make(env_id, horizon=20)
    actions = [env.action_space.sample() for _ in range(20)]
    env.reset(seed=5)
    task, first = env.unwrapped.task.copy(), _play(env, actions)
    env.reset(seed=5)
    assert np.array_equal(env.unwrapped.task, task) and _play(env, actions) == first
    env.reset()
    assert np.array_equal(env.unwrapped.task, task)  # the same task again: the inner loop's next episode
    tasks = set()
    for seed in range(6):
        env.reset(seed=seed)
        tasks.add(tuple(env.unwrapped.task.tolist()))
    assert len(tasks) > 1


def test_reset_options_set_the_task():
    env = gym.make("metaopt/Nav2D-v0")
    env.reset(seed=0, options={"goal": [0.1, 0.2]})
    assert env.unwrapped.task.tolist() == pytest.approx([0.1, 0.2])
    env.reset()
    assert env.unwrapped.task.tolist() == pytest.approx([0.1, 0.2])


@pytest.mark.parametrize("family, env_id", [("nav2d", IDS[0]), ("bandit", IDS[1]), ("gridworld", IDS[2])])
def test_drawn_tasks_are_metaopts_task_distribution(family, env_id):
    src = rl_sources(family, size=5, horizon=10)["train"]
    env = gym.make(env_id, horizon=10)
    env.reset(seed=3)
    expected = src.task_params(np.random.default_rng(3))  # gymnasium's np_random is default_rng(seed)
    drawn = env.unwrapped.task
    if family == "gridworld":
        drawn = drawn[0] * 5 + drawn[1]
    assert np.array_equal(np.asarray(drawn), expected.numpy())


@pytest.mark.parametrize("env_id", IDS)
def test_vector_entry_point_equals_sync_vector_env(env_id):
    n, horizon = 3, 6
    batched = gym.make_vec(env_id, num_envs=n, horizon=horizon)
    sync = gym.make_vec(env_id, num_envs=n, horizon=horizon, vectorization_mode="sync")
    assert type(batched.unwrapped).__name__.endswith("VectorEnv") and not isinstance(batched, gym.vector.SyncVectorEnv)
    assert batched.single_observation_space == sync.single_observation_space
    assert batched.action_space == sync.action_space
    obs_b, _ = batched.reset(seed=11)
    obs_s, _ = sync.reset(seed=11)
    np.testing.assert_array_equal(obs_b, obs_s)
    batched.action_space.seed(0)
    for t in range(2 * horizon + 3):  # through a next-step autoreset and into the second episode
        actions = batched.action_space.sample()
        out_b, out_s = batched.step(actions), sync.step(actions)
        for x, y in zip(out_b[:4], out_s[:4]):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        assert out_b[4].keys() == out_s[4].keys()
        for key in out_b[4]:
            np.testing.assert_array_equal(out_b[4][key], out_s[4][key])
    np.testing.assert_allclose(batched.unwrapped.oracle_return(),
                               [e.unwrapped.oracle_return() for e in sync.unwrapped.envs])


@pytest.mark.parametrize("family, env_id", [("nav2d", IDS[0]), ("gridworld", IDS[2])])
def test_vector_env_plays_metaopts_batch_env_exactly(family, env_id):
    horizon = 8
    tasks = rl_sources(family, size=4, horizon=horizon)["test"].fixed_tasks(5, 0)
    params = np.stack([t.params.numpy() for t in tasks])
    goals = params if family == "nav2d" else np.stack(np.divmod(params, 4), axis=1)
    kwargs = {} if family == "nav2d" else {"size": 4}
    vec = gym.make_vec(env_id, num_envs=5, horizon=horizon, goal=goals, **kwargs)
    native = make_env(tasks)
    obs, _ = vec.reset(seed=0)
    native_obs = native.reset()
    gen = torch.Generator().manual_seed(0)
    for _ in range(horizon):
        a = torch.randn(5, 2, generator=gen) * 0.1 if family == "nav2d" else torch.randint(4, (5,), generator=gen)
        obs, reward, _, _, info = vec.step(a.numpy())
        native_obs, native_reward, expected, _ = native.step(a)
        if family == "gridworld":
            native_obs = native_obs.argmax(1)
        np.testing.assert_array_equal(obs, native_obs.numpy())
        np.testing.assert_array_equal(reward, native_reward.double().numpy())
        np.testing.assert_array_equal(info["expected_reward"], expected.double().numpy())
    np.testing.assert_array_equal(vec.unwrapped.oracle_return(), native.oracle_return().double().numpy())


def test_bandit_vector_env_has_metaopts_expected_rewards_and_reward_statistics():
    probs = np.array([[0.1, 0.8], [0.6, 0.3], [0.5, 0.5]], np.float32)
    horizon = 4000
    vec = gym.make_vec("metaopt/Bandit-v0", num_envs=3, horizon=horizon, probs=probs)
    native = make_env(rl_sources("bandit", size=2, horizon=horizon)["test"].fixed_tasks(3, 0))
    native.probs = torch.as_tensor(probs)  # the same arms; its reward draws are its own (torch's) stream
    vec.reset(seed=0)
    native.reset()
    actions = np.tile([0, 1], horizon // 2)
    rewards = np.zeros((2, horizon, 3))
    for t, a in enumerate(actions):
        _, rewards[0, t], _, _, info = vec.step(np.full(3, a))
        _, native_reward, expected, _ = native.step(torch.full((3,), int(a)))
        rewards[1, t] = native_reward.numpy()
        np.testing.assert_array_equal(info["expected_reward"], expected.double().numpy())
    for arm in (0, 1):
        pulled = rewards[:, actions == arm]  # [2, horizon / 2, 3]
        means = pulled.mean(1)
        se = np.sqrt(probs[:, arm] * (1 - probs[:, arm]) / pulled.shape[1])
        assert (np.abs(means - probs[:, arm]) < 4 * se + 1e-9).all()  # both simulators pay p on average
    np.testing.assert_array_equal(vec.unwrapped.oracle_return(), native.oracle_return().double().numpy())


def test_vector_env_refuses_mismatched_tasks_and_partial_resets():
    with pytest.raises(ConfigError, match="2 tasks for 3"):
        gym.make_vec("metaopt/Nav2D-v0", num_envs=3, goal=np.zeros((2, 2)))
    vec = gym.make_vec("metaopt/Nav2D-v0", num_envs=2)
    with pytest.raises(ConfigError, match="reset_mask"):
        vec.reset(options={"reset_mask": np.array([True, False])})


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_registration_is_lazy_and_works_in_any_import_order():
    assert _python("import sys, metaopt; print('gymnasium' in sys.modules)") == "False"
    make = "gymnasium.make('metaopt/GridWorld-v0', size=3).reset(seed=0)[0]"
    assert _python(f"import metaopt, gymnasium; print({make})") == "4"  # registered when gymnasium is imported
    assert _python(f"import gymnasium, metaopt; print({make})") == "4"  # registered at once
    # Gymnasium's own module:id form imports metaopt itself
    assert _python("import gymnasium; print(gymnasium.make('metaopt:metaopt/Bandit-v0', arms=3).action_space)") \
        == "Discrete(3)"
    # gymnasium keeps its real loader after the hook ran
    assert _python("import metaopt, gymnasium; print(type(gymnasium.__spec__.loader).__name__)") == "SourceFileLoader"
