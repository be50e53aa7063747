"""The tuning objective: a point of the prompt-selector search space scored on validation classes only."""

from __future__ import annotations

import optuna

from prompting.comparison import selector_objective
from search_spaces.prompt_selector import space


def test_space_point_scores_on_validation_classes(family, fake_lm, fake_encoder):
    params = space(optuna.trial.FixedTrial({"k": 2, "temperature": 0.1, "encoder_lr": 1e-3, "num_candidates": 4,
                                            "steps": 20, "rank": 2, "decay": 0.01, "context": 1}))
    score = selector_objective(params, family=family, lm=fake_lm, encoder=fake_encoder, selector="learned",
                               ways=2, pool_per_class=4, queries_per_class=2)
    assert 0.0 <= score <= 1.0
    asked = {t.strip() for p in fake_lm.prompts for t in p.split("one of: ")[1].split(".\n")[0].split(",")}
    assert asked and asked <= {family.verbalisers[c] for c in family.classes("val")}
    again = selector_objective(params, family=family, lm=fake_lm, encoder=fake_encoder, selector="learned",
                               ways=2, pool_per_class=4, queries_per_class=2)
    assert again == score


def test_package_names_give_the_function_not_a_module():
    """``prompting.compare`` is the function however often and in whatever order it is imported."""
    import inspect

    import prompting
    from prompting import CompareConfig, compare

    assert inspect.isfunction(compare) and compare.__name__ == "compare"
    from prompting import compare as again  # a second import used to return the submodule

    assert again is compare and prompting.compare is compare
    assert inspect.isclass(CompareConfig)
