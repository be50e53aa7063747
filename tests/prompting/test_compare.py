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


def test_an_interrupted_compare_resumes_to_the_uninterrupted_result(tmp_path, family, fake_lm, fake_encoder):
    """Stopped after three of four tasks (in the second seed, so the second seed's meta-training is resumed from
    its feedback file), ``resume`` scores only the last task and ends with the whole run's per-task scores and
    prompt counts; a saved result of another configuration is refused in one line."""
    import json

    import pytest

    from metaopt.errors import ConfigError
    from prompting.comparison import CompareConfig, compare

    cfg = CompareConfig("synthetic", ("random", "knn", "learned", "meta"), (1, 2), tasks=2, seeds=(0, 1),
                        pool_per_class=6, queries_per_class=2, calibration="both", protonet_iterations=5,
                        selector_params={"steps": 20, "meta_tasks": 3, "num_candidates": 4})
    whole = compare(cfg, family=family, lm=fake_lm, encoder=fake_encoder)
    saved: list[dict] = []

    def save_until_third(partial):
        saved.append(json.loads(json.dumps(partial.to_dict())))  # as read back from an --out file
        if len(saved) == 3:
            raise KeyboardInterrupt

    feedback = lambda seed: tmp_path / f"meta-{seed}.feedback.json"  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        compare(cfg, family=family, lm=fake_lm, encoder=fake_encoder, on_task=save_until_third,
                feedback_file=feedback)
    lm = type(fake_lm)()
    resumed = compare(cfg, family=family, lm=lm, encoder=fake_encoder, resume=saved[-1], feedback_file=feedback)
    assert resumed.per_task == whole.per_task
    assert resumed.selection_prompts == whole.selection_prompts and resumed.lm_prompts == whole.lm_prompts
    refed = type(fake_lm)()  # the same resume without the feedback file meta-trains seed 1 from the LM again
    compare(cfg, family=family, lm=refed, encoder=fake_encoder, resume=saved[-1])
    assert len(refed.prompts) - len(lm.prompts) == whole.selection_prompts["meta (meta-training)"] // 2 > 0
    other = CompareConfig(**{**cfg.__dict__, "tasks": 3})
    with pytest.raises(ConfigError, match="cannot resume.*tasks"):
        compare(other, family=family, lm=fake_lm, encoder=fake_encoder, resume=saved[-1])
