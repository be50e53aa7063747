"""Policy-gradient MAML: learning on nav2d, its pieces by hand, the CLI and rl-compare, the kind checks."""

from __future__ import annotations

import json

import pytest
import torch

from metaopt.algorithms._pg import discounted_returns, linear_baseline, ppo_objective
from metaopt.cli import main
from metaopt.errors import ConfigError
from metaopt.rl_adaptation import adaptation_curve
from metaopt.runs import RunConfig, build_run


def test_meta_training_makes_one_step_of_adaptation_pay_on_nav2d():
    # 10-step navigation, 8 trajectories per step, 15 meta-iterations of 8 tasks: a fraction of a minute.
    run = build_run(RunConfig("maml-rl", "nav2d", shots=10, learner={"episodes": 8},
                              train={"iterations": 15, "meta_batch": 8, "val_every": 15, "val_tasks": 5,
                                     "outer_lr": 1e-2}))
    tasks = run.sources["test"].fixed_tasks(40, 2)
    before = adaptation_curve(run.learner, tasks, (1,))[1]["regret"]
    run.trainer(progress=False).fit()
    after = adaptation_curve(run.learner, tasks, (0, 1))
    assert after[1]["regret"] < 0.8 * before, f"regret after one step {before:.2f} -> {after[1]['regret']:.2f}"
    assert after[1]["regret"] < after[0]["regret"] - after[0]["regret_ci95"]  # adapting helps the meta-learned init


def test_discounted_returns_and_linear_baseline_by_hand():
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    torch.testing.assert_close(discounted_returns(rewards, 0.5), torch.tensor([[1.5], [1.0], [2.0]]))
    # Returns that are exactly linear in the features are fitted exactly.
    obs = torch.randn(5, 4, 2, generator=torch.Generator().manual_seed(0))
    t = (torch.arange(5.0) / 100).view(5, 1)
    target = 2 * obs[..., 0] - obs[..., 1].pow(2) + 3 * t + 1
    torch.testing.assert_close(linear_baseline(obs, target), target, atol=2e-3, rtol=0)  # up to the small ridge


def test_ppo_objective_clips_the_ratio_on_the_side_that_would_gain():
    adv = torch.tensor([1.0, -1.0])
    logp_old = torch.zeros(2)
    logp = torch.log(torch.tensor([1.5, 0.5])).requires_grad_()
    value = ppo_objective(logp, logp_old, adv, 0.2)
    torch.testing.assert_close(value, torch.tensor((1.2 * 1 + 0.8 * -1) / 2))
    (grad,) = torch.autograd.grad(value, logp)
    assert torch.equal(grad, torch.zeros(2))  # both clipped: no incentive to move further


def test_first_order_variant_and_pretraining_are_configurations():
    fo = build_run(RunConfig("fomaml-rl", "bandit", ways=3, shots=5))
    assert fo.learner.config.first_order and fo.learner.name == "fomaml-rl"
    with pytest.raises(ConfigError, match="first_order"):
        build_run(RunConfig("fomaml-rl", "bandit", learner={"first_order": False}))
    pre = build_run(RunConfig("maml-rl", "gridworld", ways=3, shots=6, learner={"pretrain": True, "episodes": 4},
                              train={"iterations": 1, "meta_batch": 2}))
    before = [p.clone() for p in pre.learner.parameters()]
    pre.trainer(progress=False).fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, pre.learner.parameters()))


def test_bad_options_and_continuous_actions_for_rl2_are_refused():
    with pytest.raises(ConfigError, match="estimator"):
        build_run(RunConfig("maml-rl", "nav2d", learner={"estimator": "trpo"}))
    with pytest.raises(ConfigError, match="episodes"):
        build_run(RunConfig("maml-rl", "nav2d", learner={"episodes": 0}))
    with pytest.raises(ConfigError, match="continuous"):
        build_run(RunConfig("rl2", "nav2d"))
    with pytest.raises(ConfigError, match="cannot handle rl"):
        build_run(RunConfig("maml", "nav2d"))


def test_train_evaluate_and_compare_from_the_cli(tmp_path, capsys):
    out = tmp_path / "mamlrl"
    args = ["train", "--algorithm", "maml-rl", "--benchmark", "bandit", "--ways", "3", "--shots", "10",
            "--iterations", "2", "--meta-batch", "4", "--val-every", "2", "--val-tasks", "4", "--test-tasks", "12",
            "--param", "episodes=4", "--param", "outer_epochs=2", "--out", str(out), "--no-progress", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["metric"] == "regret" and result["mean"] > 0
    assert main(["evaluate", "--checkpoint", str(out), "--tasks", "12", "--steps", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["metric"] == "regret"
    assert main(["rl-compare", "--ways", "3", "--shots", "10", "--tasks", "12", "--checkpoint", str(out),
                 "--baselines", "random", "--no-progress", "--json"]) == 0
    table = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = next(v for k, v in table["results"].items() if k.startswith("maml-rl"))
    # rl-compare and `train` score the same fixed test tasks with the same per-task seeds.
    assert row["mean"] == pytest.approx(result["mean"], rel=1e-5)
