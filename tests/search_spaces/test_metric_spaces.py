"""Search spaces of the metric learners: sampled configs are accepted by the registry."""

from __future__ import annotations

import optuna
import pytest

from metaopt.algorithms import build_config
from search_spaces import get_space, joint_space

TRAIN_KEYS = {"outer_lr", "meta_batch"}
METRIC = ["protonet", "matching", "relation", "siamese"]


def test_fixed_trials_give_the_values_asked_for():
    fixed = optuna.trial.FixedTrial({"fce": True, "fce_steps": 3, "cosine_scale": 10.0, "outer_lr": 1e-3,
                                     "meta_batch": 4})
    assert get_space("matching")(fixed) == {"fce": True, "fce_steps": 3, "cosine_scale": 10.0, "outer_lr": 1e-3,
                                            "meta_batch": 4}
    fixed = optuna.trial.FixedTrial({"hidden": 16, "outer_lr": 2e-3, "meta_batch": 1})
    assert build_config("relation", {"hidden": get_space("relation")(fixed)["hidden"]}).hidden == 16


@pytest.mark.parametrize("name", METRIC)
def test_sampled_configs_are_valid(name):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        config = get_space(name)(study.ask())
        build_config(name, {k: v for k, v in config.items() if k not in TRAIN_KEYS})
        assert 1e-4 <= config["outer_lr"] <= 1e-2


def test_joint_space_chooses_among_the_metric_learners():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    chosen = {joint_space(METRIC)(study.ask())["algorithm"] for _ in range(30)}
    assert chosen == set(METRIC)
