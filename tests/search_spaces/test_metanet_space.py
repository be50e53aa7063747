"""The Meta Networks search space: a FixedTrial gives a config the registry accepts and a run builds."""

from __future__ import annotations

import optuna

from metaopt.algorithms import MetaNet, build_config
from metaopt.models import default_model
from search_spaces import get_space

TRAIN_KEYS = {"outer_lr", "meta_batch"}


def test_fixed_trial_builds_a_valid_metanet():
    params = {"hidden": 32, "key_size": 128, "generator_hidden": 12, "fast_scale": 0.5,
              "outer_lr": 1e-3, "meta_batch": 8}
    config = get_space("metanet")(optuna.trial.FixedTrial(params))
    assert config == params
    learner_config = build_config("metanet", {k: v for k, v in config.items() if k not in TRAIN_KEYS})
    learner = MetaNet(default_model((1, 16, 16), 3), learner_config, "classification")
    assert learner.base_hidden.out_features == 32 and learner.represent.out_features == 128


def test_sampled_values_stay_in_range():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        config = get_space("metanet")(study.ask())
        assert 10 <= config["generator_hidden"] <= 40 and 0.01 <= config["fast_scale"] <= 1
        build_config("metanet", {k: v for k, v in config.items() if k not in TRAIN_KEYS})
