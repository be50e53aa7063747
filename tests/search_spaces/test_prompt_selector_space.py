"""The prompt-selector search space, checked with FixedTrial (no study)."""

from __future__ import annotations

import optuna
import pytest

from metaopt.errors import ConfigError
from prompting.selectors import make_selector
from search_spaces.prompt_selector import bootstrap_space, selector_space, space


def test_space_values_build_a_selector():
    params = space(optuna.trial.FixedTrial({"k": 4, "temperature": 0.1, "encoder_lr": 1e-3, "num_candidates": 8,
                                            "steps": 100, "rank": 2, "decay": 0.01, "context": 3}))
    assert params["k"] == 4 and params["num_candidates"] == 8
    selector = make_selector("learned", **{k: v for k, v in params.items() if k != "k"})
    assert selector.params()["temperature"] == 0.1 and selector.num_candidates == 8


def test_space_samples_within_bounds():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        p = space(study.ask())
        assert p["k"] in (1, 2, 4, 8) and 0.02 <= p["temperature"] <= 1.0 and 4 <= p["num_candidates"] <= 16
    with pytest.raises(ValueError):
        space(optuna.trial.FixedTrial({"k": 4}))



def test_every_tunable_selector_has_a_space_that_builds_it():
    from prompting.tune import TUNABLE

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for name in (*TUNABLE, "knn", "balanced_knn", "bm25", "random"):
        for calibration in (False, True):
            p = selector_space(name, calibration=calibration)(study.ask())
            assert p["k"] in (1, 2, 4, 8) and ("calibrate" in p) == calibration
            make_selector(name, **{k: v for k, v in p.items() if k not in ("k", "calibrate")})
    p = bootstrap_space(optuna.trial.FixedTrial({"k": 2, "num_sets": 8, "val_size": 6}))
    assert make_selector("bootstrap", **{k: v for k, v in p.items() if k != "k"}).params() == {"num_sets": 8,
                                                                                                 "val_size": 6}
    with pytest.raises(ConfigError, match="no search space"):
        selector_space("zero")
