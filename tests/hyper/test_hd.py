"""Hypergradient descent: the plain optimiser when β = 0, and it moves the LR toward the optimum."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from metaopt.errors import ConfigError
from metaopt.hyper.hd import HDSGD, HDAdam, current_lrs, hd_optimizer


def _regression():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    return model, x, y


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_zero_hyper_lr_is_the_reference_optimizer(name):
    model, x, y = _regression()
    reference = copy.deepcopy(model)
    if name == "adam":
        ours, ref = HDAdam(model.parameters(), 0.01, hyper_lr=0.0), torch.optim.Adam(reference.parameters(), 0.01)
    else:
        m = 0.9 if name == "momentum" else 0.0
        ours = HDSGD(model.parameters(), 0.05, hyper_lr=0.0, momentum=m, weight_decay=1e-3)
        ref = torch.optim.SGD(reference.parameters(), 0.05, momentum=m, weight_decay=1e-3)
    for _ in range(5):
        for net, opt in ((model, ours), (reference, ref)):
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule", ["multiplicative", "additive"])
@pytest.mark.parametrize("start", [0.2, 1.7])
def test_hd_sgd_moves_the_rate_toward_the_known_optimum(rule, start):
    # f(w) = a/2 ‖w‖² with noisy restarts: the best constant SGD rate is 1/a (one step to the minimum).
    a, best = 4.0, 0.25
    w = nn.Parameter(torch.ones(5, dtype=torch.float64))
    opt = HDSGD([w], start * best, hyper_lr=0.05 if rule == "multiplicative" else 3e-3, rule=rule)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        with torch.no_grad():
            w.add_(0.05 * torch.randn(5, generator=g, dtype=torch.float64))
        opt.zero_grad()
        (0.5 * a * w.pow(2).sum()).backward()
        opt.step()
    assert abs(current_lrs(opt)[0] - best) < 0.3 * abs(start * best - best)


def test_hd_adam_learns_its_rate_and_stays_in_bounds():
    model, x, y = _regression()
    opt = HDAdam(model.parameters(), 1e-4, hyper_lr=0.05, lr_bounds=(1e-5, 3e-3))
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        first = first if first is not None else float(loss.detach())
        loss.backward()
        opt.step()
    lr = current_lrs(opt)[0]
    assert 1e-4 < lr <= 3e-3  # too small a start rate grows (successive Adam steps agree)
    assert float(loss) < first


def test_hd_composes_with_an_external_schedule_and_round_trips_state():
    model, x, y = _regression()
    opt = hd_optimizer("sgd", model.parameters(), 0.05, hyper_lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    learned = opt.param_groups[0]["hd_lr"]
    opt.param_groups[0]["lr"] = 0.025  # a schedule halving the rate halves the learned rate's step
    assert current_lrs(opt)[0] == pytest.approx(learned / 2)
    clone = hd_optimizer("sgd", copy.deepcopy(model).parameters(), 0.05, hyper_lr=0.1)
    clone.load_state_dict(opt.state_dict())
    assert clone.param_groups[0]["hd_lr"] == learned


def test_bad_hd_settings_are_config_errors():
    p = [nn.Parameter(torch.zeros(1))]
    with pytest.raises(ConfigError, match="lower 1.0 > upper 0.1"):
        HDSGD(p, 0.5, lr_bounds=(1.0, 0.1))
    with pytest.raises(ConfigError, match="initial value 50.0 is outside"):
        HDSGD(p, 50.0)
    with pytest.raises(ConfigError, match="unknown hypergradient optimizer 'rmsprop'"):
        hd_optimizer("rmsprop", p, 0.1)
    with pytest.raises(ConfigError, match="unknown hypergradient rule"):
        HDAdam(p, 1e-3, rule="sign")


def test_hd_adam_as_the_trainers_outer_optimizer_on_sinusoids():
    from metaopt.runs import RunConfig, build_run

    run = build_run(RunConfig("maml", "sinusoid", shots=5,
                              train={"iterations": 8, "meta_batch": 2, "val_every": 8, "val_tasks": 5}))
    trainer = run.trainer(None, progress=False,
                          optimizer_factory=lambda params, lr: hd_optimizer("adam", params, lr, hyper_lr=0.05))
    trainer.fit()
    assert isinstance(trainer.optimizer, HDAdam)
    assert current_lrs(trainer.optimizer)[0] != pytest.approx(1e-3)


def test_trainer_with_hd_resumes_exactly(tmp_path):
    from metaopt.runs import RunConfig, build_run

    def trainer(iterations, out):
        run = build_run(RunConfig("maml", "sinusoid", shots=5, train={"iterations": iterations, "meta_batch": 2,
                                                                      "val_every": 2, "val_tasks": 3}))
        return run.trainer(out, progress=False,
                           optimizer_factory=lambda params, lr: hd_optimizer("adam", params, lr, hyper_lr=0.05))

    whole = trainer(6, tmp_path / "whole")
    whole.fit()
    trainer(4, tmp_path / "split").fit()
    resumed = trainer(6, tmp_path / "split")
    assert resumed.resume() and resumed.state.iteration == 4  # really continues from the checkpoint
    assert current_lrs(resumed.optimizer) != pytest.approx([1e-3])  # with the learned rate restored
    resumed.fit()
    assert current_lrs(resumed.optimizer) == pytest.approx(current_lrs(whole.optimizer), rel=0, abs=0)
    for a, b in zip(resumed.learner.parameters(), whole.learner.parameters()):
        assert torch.equal(a, b)
