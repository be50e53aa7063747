"""The MAML-RL search spaces: a FixedTrial gives a config the registry accepts and a run builds."""

from __future__ import annotations

import optuna
import pytest

from metaopt.algorithms import build_config
from metaopt.runs import RunConfig, build_run
from search_spaces import get_space

TRAIN_KEYS = {"outer_lr", "meta_batch"}
PARAMS = {"inner_lr": 0.2, "inner_steps": 2, "episodes": 10, "gamma": 0.95, "clip": 0.25, "outer_epochs": 2,
          "hidden": 32, "outer_lr": 1e-3, "meta_batch": 20}


@pytest.mark.parametrize("name, extra", [("maml-rl", {"estimator": "exact"}), ("fomaml-rl", {})])
def test_fixed_trial_builds_a_valid_run(name, extra):
    params = {**PARAMS, **extra}
    config = get_space(name)(optuna.trial.FixedTrial(params))
    assert config == params
    learner = {k: v for k, v in config.items() if k not in TRAIN_KEYS}
    run = build_run(RunConfig(name, "nav2d", learner=learner, train={k: config[k] for k in TRAIN_KEYS}))
    assert run.learner.config.inner_steps == 2 and run.learner.model.out.in_features == 32
    assert run.train_config.meta_batch == 20


def test_sampled_values_stay_in_range():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        config = get_space("maml-rl")(study.ask())
        assert 0.01 <= config["inner_lr"] <= 1 and 0.1 <= config["clip"] <= 0.3
        build_config("maml-rl", {k: v for k, v in config.items() if k not in TRAIN_KEYS})
