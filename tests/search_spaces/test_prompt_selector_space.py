"""The prompt-selector search space, checked with FixedTrial (no study)."""

from __future__ import annotations

import optuna
import pytest

from prompting.selectors import make_selector
from search_spaces.prompt_selector import space


def test_space_values_build_a_selector():
    params = space(optuna.trial.FixedTrial({"k": 4, "temperature": 0.1, "encoder_lr": 1e-3, "num_candidates": 8,
                                            "steps": 100}))
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

