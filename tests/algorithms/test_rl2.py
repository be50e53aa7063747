"""RL^2: GAE against a hand computation, batch-invariant rollouts, learning on bandits, the kind check."""

from __future__ import annotations

import json

import pytest
import torch

from metaopt.algorithms.rl2 import Rollout, a2c_loss, gae, rollout
from metaopt.cli import main
from metaopt.errors import ConfigError
from metaopt.rl_compare import compare, rl2_regrets
from metaopt.runs import RunConfig, build_run


def _run(iterations: int = 10, ways: int = 3, shots: int = 10, **learner):
    return build_run(RunConfig("rl2", "bandit", ways=ways, shots=shots, learner=learner,
                               train={"iterations": iterations, "meta_batch": 16, "val_every": iterations,
                                      "val_tasks": 20, "outer_lr": 3e-3}))


def test_gae_matches_hand_computation():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [1.0], [0.2]])
    g, lam = 0.9, 0.5
    d2 = 2.0 - 0.2
    d1 = 0.0 + g * 0.2 - 1.0
    d0 = 1.0 + g * 1.0 - 0.5
    expected = [d0 + g * lam * (d1 + g * lam * d2), d1 + g * lam * d2, d2]
    assert gae(rewards, values, g, lam)[:, 0].tolist() == pytest.approx(expected, abs=1e-6)
    # lambda = 1 gives the discounted return minus the value (Monte Carlo advantages).
    mc = gae(rewards, values, g, 1.0)[:, 0]
    assert mc.tolist() == pytest.approx([1 + g**2 * 2 - 0.5, g * 2 - 1.0, 2 - 0.2], abs=1e-6)


def _fake_rollout(rewards: torch.Tensor, values: torch.Tensor) -> Rollout:
    zeros = torch.zeros_like(rewards)
    log_probs = zeros.clone().requires_grad_(True)  # the policy-gradient weight of a step is d loss / d log_prob
    return Rollout(log_probs, values, zeros, rewards, rewards, zeros.long(), rewards.sum(0))


@pytest.mark.parametrize("normalize", [True, False])
def test_a2c_policy_gradient_weights_steps_by_their_advantage(normalize):
    rewards = torch.tensor([[1.0, 0.0], [0.0, 5.0], [2.0, 1.0]])
    values = torch.tensor([[0.5, 0.1], [1.0, 0.0], [0.2, 3.0]])
    roll = _fake_rollout(rewards, values)
    a2c_loss(roll, 0.9, 0.5, 0.0, 0.0, normalize=normalize).backward()
    advantages = gae(rewards, values, 0.9, 0.5)
    if normalize:  # standardised over every step of every task of the batch
        advantages = (advantages - advantages.mean()) / advantages.std()
    assert torch.allclose(roll.log_probs.grad, -advantages / rewards.numel(), atol=1e-6)


def test_normalize_advantages_reaches_the_loss(monkeypatch):
    import metaopt.algorithms.rl2 as rl2

    seen = []
    real = rl2.a2c_loss
    monkeypatch.setattr(rl2, "a2c_loss", lambda *a, **kw: seen.append(kw["normalize"]) or real(*a, **kw))
    for flag in (False, True):
        run = _run(normalize_advantages=flag)
        run.learner.meta_loss(run.sources["train"].fixed_tasks(1, 3)[0], 0)
    assert seen == [False, True]
    with pytest.raises(ConfigError, match="normalize_advantages"):
        _run(normalize_advantages="yes")


def test_rollout_is_batch_invariant_and_hidden_state_carries():
    run = _run()
    tasks = run.sources["test"].fixed_tasks(6, 2)
    together = rollout(run.learner.model, tasks)
    alone = [rollout(run.learner.model, [t]) for t in tasks]
    assert torch.allclose(together.regret, torch.cat([r.regret for r in alone]), atol=1e-5)
    assert together.log_probs.shape == (10, 6)
    assert float(run.learner.score(tasks[0])) == pytest.approx(float(alone[0].regret[0]), abs=1e-5)
    loss = a2c_loss(together, 0.9, 0.3, 0.01, 0.1)
    loss.backward()
    assert run.learner.model.cell.weight_hh.grad.abs().sum() > 0  # gradients flow back through time


def test_rl2_learns_to_beat_random_play_on_bandits():
    # 2 arms, 20 pulls: random play loses 20 * (2/3 - 1/2) ≈ 3.3; UCB1 about 1.8. A few hundred
    # A2C updates must take RL^2 well below random play on fixed test bandits it never trained on.
    run = build_run(RunConfig("rl2", "bandit", ways=2, shots=20,
                              train={"iterations": 300, "meta_batch": 32, "val_every": 300, "val_tasks": 20,
                                     "outer_lr": 3e-3}))
    tasks = run.sources["test"].fixed_tasks(400, 2)
    before = float(rl2_regrets(run.learner, tasks).mean())
    run.trainer(progress=False).fit()
    after = float(rl2_regrets(run.learner, tasks).mean())
    assert after < 0.8 * before, f"regret {before:.2f} -> {after:.2f}"


@pytest.mark.parametrize(
    "algorithm, bench_name, needle",
    [("rl2", "glyphs", "cannot handle classification"), ("rl2", "sinusoid", "cannot handle regression"),
     ("maml", "bandit", "cannot handle rl"), ("protonet", "gridworld", "cannot handle rl")],
)
def test_kind_mismatch_is_refused_in_one_line(algorithm, bench_name, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--algorithm", algorithm, "--benchmark", bench_name, "--iterations", "1", "--no-progress"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert exc.value.code == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in err


def test_bad_rl_options_are_refused():
    with pytest.raises(ConfigError, match="queries"):
        build_run(RunConfig("rl2", "bandit", queries=5))
    with pytest.raises(ConfigError, match="gamma"):
        _run(gamma=1.5)
    with pytest.raises(ConfigError, match="arms"):
        build_run(RunConfig("rl2", "bandit", ways=1))


def test_train_then_compare_from_the_cli(tmp_path, capsys):
    out = tmp_path / "rl2"
    args = ["train", "--algorithm", "rl2", "--benchmark", "bandit", "--ways", "3", "--shots", "10", "--iterations",
            "4", "--meta-batch", "4", "--val-every", "2", "--val-tasks", "5", "--test-tasks", "30", "--out", str(out),
            "--no-progress", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["metric"] == "regret" and result["ways"] == 3 and result["shots"] == 10 and result["mean"] > 0
    assert main(["rl-compare", "--ways", "3", "--shots", "10", "--tasks", "30", "--checkpoint", str(out),
                 "--no-progress", "--json"]) == 0
    table = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(table["results"]) == {"ucb1", "thompson", "random", f"rl2 ({out})"}
    # rl-compare batches the rollouts; `train` scored the same 30 tasks one by one: same number.
    assert table["results"][f"rl2 ({out})"]["mean"] == pytest.approx(result["mean"], rel=1e-5)
    with pytest.raises(SystemExit) as exc:
        main(["rl-compare", "--ways", "4", "--shots", "10", "--tasks", "5", "--checkpoint", str(out)])
    assert exc.value.code == 2 and "--ways 3" in capsys.readouterr().err


def test_compare_gridworld_defaults_to_random_play_and_search():
    table = compare("gridworld", ways=3, shots=12, n_tasks=20)
    assert set(table["results"]) == {"random", "search"} and table["results"]["random"]["mean"] > 0
    assert table["results"]["search"]["mean"] < table["results"]["random"]["mean"]
    # return = the oracle's return minus regret, for every row
    assert all(r["return"] + r["mean"] == pytest.approx(table["oracle_return"]) for r in table["results"].values())
    with pytest.raises(ConfigError, match="unknown baseline 'gittins'"):
        compare("gridworld", ways=3, shots=12, n_tasks=5, baselines=["gittins"])
