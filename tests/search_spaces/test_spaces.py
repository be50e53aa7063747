"""Search spaces: every registered learner has one, each samples configs the learner accepts."""

from __future__ import annotations

import dataclasses

import optuna
import pytest
from optuna.trial import FixedTrial

import search_spaces
from metaopt.algorithms import available_learners, build_config
from metaopt.errors import ConfigError
from metaopt.trainer import TrainConfig
from metaopt.tuning import TRAIN_KEYS

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_every_registered_learner_has_a_space():
    missing = [name for name in available_learners() if not search_spaces.has_space(name)]
    assert not missing, f"add search_spaces/<name>.py with space(trial) for: {', '.join(missing)}"


@pytest.mark.parametrize("name", available_learners())
def test_sampled_configs_are_accepted_by_the_learner(name):
    space = search_spaces.get_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for _ in range(8):  # random draws reach the conditional branches (inner Adam, cosine, ...)
        params = space(study.ask())
        learner = {k: v for k, v in params.items() if k not in TRAIN_KEYS}
        build_config(name, learner)  # raises ConfigError on an unknown key or a bad value
        assert {k for k in params if k in TRAIN_KEYS} <= train_fields
        TrainConfig(**{k: v for k, v in params.items() if k in TRAIN_KEYS}).validate()


def test_maml_space_on_a_fixed_trial_uses_adam_rate_name():
    params = search_spaces.get_space("maml")(FixedTrial({
        "inner_optimizer": "adam", "inner_lr_adam": 0.003, "inner_steps": 2, "first_order": False,
        "outer_lr": 1e-3, "meta_batch": 8}))
    assert params == {"inner_optimizer": "adam", "inner_lr": 0.003, "inner_steps": 2, "first_order": False,
                      "outer_lr": 1e-3, "meta_batch": 8}


def test_reptile_space_covers_our_sgd_defaults_and_nichols_adam_beta1_zero():
    space = search_spaces.get_space("reptile")
    ours = space(FixedTrial({"inner_optimizer": "sgd", "inner_lr": 0.02, "inner_steps": 5, "outer_lr": 1.0,
                             "meta_batch": 16}))
    assert ours["inner_lr"] == 0.02 and "adam_beta1" not in ours and ours["first_order"]
    paper = space(FixedTrial({"inner_optimizer": "adam", "inner_lr_adam": 1e-3, "inner_steps": 5,
                              "adam_beta1": 0.0, "outer_lr": 1.0, "meta_batch": 5}))
    assert build_config("reptile", {k: v for k, v in paper.items() if k not in TRAIN_KEYS}).adam_beta1 == 0.0


def test_joint_space_makes_parameters_conditional_on_the_algorithm():
    space = search_spaces.joint_space(["maml", "metasgd"])
    params = space(FixedTrial({"algorithm": "metasgd", "metasgd.inner_lr": 0.05, "metasgd.inner_steps": 1,
                               "metasgd.first_order": True, "metasgd.outer_lr": 1e-3, "metasgd.meta_batch": 4}))
    assert params["algorithm"] == "metasgd" and params["inner_lr"] == 0.05
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(6):
        trial = study.ask()
        chosen = space(trial)["algorithm"]
        assert all(k == "algorithm" or k.startswith(chosen + ".") for k in trial.params)


def test_with_fixed_stops_searching_a_parameter():
    space = search_spaces.with_fixed(search_spaces.joint_space(["fomaml"]), {"meta_batch": 4})
    trial = optuna.create_study().ask()
    assert space(trial)["meta_batch"] == 4 and "fomaml.meta_batch" not in trial.params


def test_unknown_space_and_bad_user_space_are_config_errors():
    with pytest.raises(ConfigError, match="nope"):
        search_spaces.get_space("nope")
    with pytest.raises(ConfigError, match="module:function"):
        search_spaces.load_space("no_colon")
    with pytest.raises(ConfigError, match="cannot import"):
        search_spaces.load_space("not_a_module_xyz:space")
    assert search_spaces.load_space("search_spaces.maml:space") is search_spaces.get_space("maml")
