"""Learned inner-loop hyperparameters on any gradient-based meta-learner."""

from __future__ import annotations

import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.hyper.inner import InnerHyperparameters, ProjectInnerHyperparameters, attach_inner_hyperparameters
from metaopt.runs import RunConfig, build_run


def _run(algorithm: str, **learner):
    return build_run(RunConfig(algorithm, "sinusoid", shots=5, learner={"inner_steps": 3, **learner},
                               train={"iterations": 6, "meta_batch": 2, "val_every": 6, "val_tasks": 4}))


def test_rates_table_shapes_and_reuse_of_the_last_step():
    hp = InnerHyperparameters(3, 2, lr=0.1, per_step=True, per_layer=False, momentum=0.5, weight_decay=1e-3)
    assert [float(r) for r in hp.rates(0)] == pytest.approx([0.1] * 3)
    with torch.no_grad():
        hp.hypers["lr"].raw[1].fill_(0.0)  # rate 1.0 at step 1
    assert float(hp.rates(5)[0]) == pytest.approx(1.0)  # later steps reuse the last learned step
    over = hp.overrides(0)
    assert set(over) == {"momentum", "weight_decay"} and len(over["momentum"]) == 3


@pytest.mark.parametrize("algorithm", ["maml", "anil", "mamlpp"])
def test_per_step_inner_rates_receive_gradients_and_change(algorithm):
    run = _run(algorithm)
    hypers = attach_inner_hyperparameters(run.learner, momentum=0.3, weight_decay=1e-3)
    before = {k: v.detach().clone() for k, v in hypers.state_dict().items()}
    task = run.sources["train"].sample(__import__("numpy").random.default_rng(0))
    run.learner.meta_loss(task, 0).backward()
    for name, hp in hypers.hypers.items():
        assert hp.raw.grad is not None and hp.raw.grad.abs().sum() > 0, name
    trainer = run.trainer(None, progress=False, callbacks=[ProjectInnerHyperparameters()])
    trainer.fit()
    changed = {k: not torch.equal(v, hypers.state_dict()[k]) for k, v in before.items()}
    assert all(changed.values()), changed
    lr = hypers.hypers.value("lr")
    assert lr.shape[0] == 3 and len({round(float(x), 7) for x in lr[:, 0]}) == 3  # each step its own rate
    assert any(k.startswith("inner_hypers.") for k in run.learner.state_dict())


def test_attaching_refuses_what_cannot_work():
    with pytest.raises(ConfigError, match="not a gradient-based meta-learner"):
        attach_inner_hyperparameters(torch.nn.Linear(1, 1))
    with pytest.raises(ConfigError, match="learned inner momentum needs inner_optimizer"):
        attach_inner_hyperparameters(_run("maml", inner_optimizer="adam").learner, momentum=0.5)
    with pytest.raises(ConfigError, match="lower 0.5 > upper 0.1"):
        attach_inner_hyperparameters(_run("maml").learner, lr_bounds=(0.5, 0.1))


def test_meta_sgd_and_lslr_are_special_cases():
    # Per-element rates on MAML reproduce Meta-SGD; per-layer per-step rates on MAML++ its LSLR.
    import numpy as np

    from metaopt.algorithms import MetaSGD

    maml, metasgd = _run("maml"), _run("metasgd")
    metasgd.learner.load_state_dict({**metasgd.learner.state_dict(),
                                     **{k: v for k, v in maml.learner.state_dict().items()}})
    hypers = attach_inner_hyperparameters(maml.learner, per_element=True, per_step=False)
    assert isinstance(metasgd.learner, MetaSGD) and len(hypers.rates(0)) == len(list(metasgd.learner.rates))
    task = maml.sources["train"].sample(np.random.default_rng(1))
    torch.testing.assert_close(maml.learner.meta_loss(task, 0), metasgd.learner.meta_loss(task, 0))
    rows = hypers.scalars()
    assert "lr.0.0.mean" in rows and len(rows) == 3 * len(hypers.rates(0))

    mamlpp = _run("mamlpp")
    plain = mamlpp.learner.meta_loss(task, 0)
    attach_inner_hyperparameters(mamlpp.learner, per_step=True, per_layer=True)
    torch.testing.assert_close(mamlpp.learner.meta_loss(task, 0), plain)
