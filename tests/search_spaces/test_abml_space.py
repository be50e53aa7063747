"""The ABML search space gives configs the registry accepts."""

from __future__ import annotations

import optuna

from metaopt.algorithms import build_config
from search_spaces import get_space


def test_sampled_configs_are_valid_abml_configs():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        config = get_space("abml")(study.ask())
        learner = {k: v for k, v in config.items() if k not in ("outer_lr", "meta_batch")}
        built = build_config("abml", learner)
        assert 1e-6 <= built.kl_weight <= 1e-2 and 1 <= built.samples <= 3 and built.inner_optimizer == "sgd"
