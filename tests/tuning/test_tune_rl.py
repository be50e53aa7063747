"""``metaopt tune`` searches the policy-gradient MAML spaces on an RL benchmark, scored by regret."""

from __future__ import annotations

import optuna

from metaopt.tuning import TuneConfig, tune
from search_spaces import joint_space, with_fixed


def test_tune_chooses_between_maml_rl_variants_and_scores_regret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The built-in joint space of both variants, with the sizes fixed small so the test stays short.
    space = with_fixed(joint_space(["maml-rl", "fomaml-rl"]), {"episodes": 4, "meta_batch": 2, "hidden": 32})
    cfg = TuneConfig("bandit", ways=2, shots=3, space=space, trials=2, iterations=1, val_tasks=4, test_tasks=8,
                     study="rl", pruner="none", sampler="random", progress=False)
    summary = tune(cfg)
    assert summary["states"]["complete"] == 2 and summary["algorithm"] in ("maml-rl", "fomaml-rl")
    study = optuna.load_study(study_name="rl", storage=f"sqlite:///{tmp_path}/optuna.db")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE  # regret: lower is better
    for trial in study.trials:
        assert trial.user_attrs["metric"] == "regret" and trial.params["algorithm"] in ("maml-rl", "fomaml-rl")
        assert trial.value >= 0
