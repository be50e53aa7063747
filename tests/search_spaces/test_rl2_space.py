"""The RL^2 search space: a FixedTrial gives a config the registry accepts and a run builds."""

from __future__ import annotations

import optuna

from metaopt.algorithms import build_config
from metaopt.runs import RunConfig, build_run
from search_spaces import get_space

TRAIN_KEYS = {"outer_lr", "meta_batch"}


def test_fixed_trial_builds_a_valid_rl2_run():
    params = {"hidden": 32, "gamma": 0.95, "gae_lambda": 0.5, "entropy": 0.01, "value_coef": 0.2,
              "outer_lr": 1e-3, "meta_batch": 16}
    config = get_space("rl2")(optuna.trial.FixedTrial(params))
    assert config == params
    learner = {k: v for k, v in config.items() if k not in TRAIN_KEYS}
    assert build_config("rl2", learner).hidden == 32
    run = build_run(RunConfig("rl2", "bandit", ways=3, shots=5, learner=learner,
                              train={k: config[k] for k in TRAIN_KEYS}))
    assert run.learner.model.hidden_size == 32 and run.train_config.meta_batch == 16


def test_sampled_values_stay_in_range():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        config = get_space("rl2")(study.ask())
        assert 0.8 <= config["gamma"] <= 0.99 and 0.3 <= config["gae_lambda"] <= 1.0
        build_config("rl2", {k: v for k, v in config.items() if k not in TRAIN_KEYS})
