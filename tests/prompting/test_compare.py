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


def test_rows_carry_the_difference_against_knn_paired_by_task():
    from prompting.comparison import CompareResult, _ci_rows

    per_task = {"zero@0": [0.25, 0.25, 0.5], "knn@4": [0.5, 0.6, 0.7], "learned@4": [0.6, 0.7, 0.9],
                "learned@2": [0.4, 0.5, 0.5]}
    rows = {(r["method"], r["k"]): r for r in _ci_rows(per_task)}
    learned = rows[("learned", 4)]
    # differences 0.1, 0.1, 0.2: mean 0.1333, sd 0.0577, t(2) = 4.303 -> half-width 0.1434
    assert abs(learned["vs_knn"] - 0.13333) < 1e-4 and abs(learned["vs_knn_ci95"] - 0.14343) < 1e-4
    assert "vs_knn" not in rows[("knn", 4)] and "vs_knn" not in rows[("zero", 0)]
    assert "vs_knn" not in rows[("learned", 2)]  # no kNN at k = 2 to pair with
    text = CompareResult({}, list(rows.values()), per_task, 0.0, 0).table()
    assert "vs kNN, paired" in text and "+13.3 ± 14.3" in text
