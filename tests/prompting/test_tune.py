"""The selector study: trials on validation classes, resume, MLflow children, pruning, test vs defaults."""

from __future__ import annotations

import optuna
import pytest

from metaopt.errors import ConfigError
from prompting.tune import PromptTuneConfig, open_prompt_study, tune_selector

SMALL = {"ways": 2, "pool_per_class": 4, "queries_per_class": 1, "tasks": 2, "test_tasks": 2}


def _cfg(tmp_path, **kw) -> PromptTuneConfig:
    base = {"family": "synthetic", "trials": 2, "storage": f"sqlite:///{tmp_path}/optuna.db",
            "tracking_uri": f"sqlite:///{tmp_path}/mlflow.db", "fixed": {"steps": 3, "train_queries": 2},
            "progress": False, **SMALL}
    return PromptTuneConfig(**{**base, **kw})


def test_study_scores_val_classes_resumes_and_logs_children(tmp_path, family, fake_lm, fake_encoder):
    parts = {"family": family, "lm": fake_lm, "encoder": fake_encoder}
    first = tune_selector(_cfg(tmp_path), **parts)
    assert first["states"]["complete"] == 2 and first["best_trial"] in (0, 1)
    assert set(first["params"]) == {"k", "temperature", "encoder_lr", "num_candidates", "steps", "rank", "decay",
                                    "train_queries", "context"}
    assert first["params"]["steps"] == 3 and first["params"]["train_queries"] == 2  # fixed, not searched
    assert 0 <= first["test_mean"] <= 1 and first["test_tasks"] == 2
    assert first["default_params"] == {"k": 4, "steps": 3, "train_queries": 2}
    assert 0 <= first["default_test_mean"] <= 1
    assert first["gain_mean"] == pytest.approx(first["test_mean"] - first["default_test_mean"])  # same tasks
    assert first["knn_params"] == f"k={first['params']['k']}"  # kNN at the best point's k, on the same tasks
    assert first["vs_knn_mean"] == pytest.approx(first["test_mean"] - first["knn_test_mean"])

    val = {family.verbalisers[c] for c in family.classes("val")}
    test = {family.verbalisers[c] for c in family.classes("test")}
    asked = [{t.strip() for t in p.split("one of: ")[1].split(".\n")[0].split(",")} for p in fake_lm.prompts]
    assert any(a <= val for a in asked) and any(a <= test for a in asked)
    assert not any(a & val and a & test for a in asked)

    resumed = tune_selector(_cfg(tmp_path, trials=3), **parts)  # the same study, one more trial
    assert resumed["trials"] == 3 and resumed["states"]["complete"] == 3
    assert resumed["mlflow_parent_run_id"] == first["mlflow_parent_run_id"]
    study = optuna.load_study(study_name=resumed["study"], storage=f"sqlite:///{tmp_path}/optuna.db")
    best = study.best_trial
    assert best.value == pytest.approx(sum(best.user_attrs["val_scores"]) / 2)
    assert study.user_attrs["metric"] == "accuracy" and study.user_attrs["best_trial"] == best.number

    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    children = client.search_runs([client.get_experiment_by_name(resumed["study"]).experiment_id],
                                  f"tags.mlflow.parentRunId = '{resumed['mlflow_parent_run_id']}'")
    assert len(children) == 3 and all(r.info.status == "FINISHED" for r in children)
    assert {r.data.tags["trial_state"] for r in children} == {"COMPLETE"}
    assert all("val_mean" in r.data.metrics and "temperature" in r.data.params for r in children)
    parent = client.get_run(resumed["mlflow_parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert {"test_mean", "default_test_mean", "knn_test_mean", "vs_knn_mean"} <= set(parent.data.metrics)
    assert study.user_attrs["knn_key"] == resumed["knn_params"] in study.user_attrs["knn_test_scores"]


def test_knn_baseline_is_scored_once_per_k(tmp_path, family, fake_lm, fake_encoder, monkeypatch):
    import prompting.comparison

    calls: list[tuple[str, dict]] = []
    real = prompting.comparison.selector_scores

    def counting(params, **kw):
        calls.append((kw.get("selector", "learned"), dict(params)))
        return real(params, **kw)

    monkeypatch.setattr(prompting.comparison, "selector_scores", counting)
    parts = {"family": family, "lm": fake_lm, "encoder": fake_encoder}
    first = tune_selector(_cfg(tmp_path, fixed={"k": 2, "steps": 3, "train_queries": 2}), **parts)
    assert [p for s, p in calls if s == "knn"] == [{"k": 2, "calibrate": False}]
    calls.clear()
    again = tune_selector(_cfg(tmp_path, trials=3, fixed={"k": 2, "steps": 3, "train_queries": 2}), **parts)
    assert not [s for s, _ in calls if s == "knn"]  # same k: the stored kNN scores serve every later best
    assert again["knn_test_mean"] == first["knn_test_mean"] and again["knn_params"] == "k=2"


def test_pruner_stops_trials_after_a_validation_task(tmp_path, family, fake_lm, fake_encoder, monkeypatch):
    monkeypatch.setattr(optuna.pruners.NopPruner, "prune", lambda self, study, trial: trial.number > 0)
    summary = tune_selector(_cfg(tmp_path, trials=3, baseline=False), family=family, lm=fake_lm,
                            encoder=fake_encoder)
    assert summary["states"] == {**summary["states"], "complete": 1, "pruned": 2}
    assert "default_test_mean" not in summary
    study = optuna.load_study(study_name=summary["study"], storage=f"sqlite:///{tmp_path}/optuna.db")
    assert [t.user_attrs.get("pruned_at") for t in study.trials] == [None, 1, 1]


def test_refuses_bad_config_and_another_protocol(tmp_path, family, fake_lm, fake_encoder):
    with pytest.raises(ConfigError, match="knn"):
        _cfg(tmp_path, selector="knn").validate()
    with pytest.raises(ConfigError, match="trials"):
        _cfg(tmp_path, trials=0).validate()
    with pytest.raises(ConfigError, match="temprature"):
        _cfg(tmp_path, fixed={"temprature": 0.1}).validate()
    with pytest.raises(ConfigError, match="temperature must be > 0, got -1"):
        _cfg(tmp_path, fixed={"temperature": -1}).validate()
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        _cfg(tmp_path, fixed={"k": 0}).validate()
    with pytest.raises(ConfigError, match="storage"):
        open_prompt_study(_cfg(tmp_path, storage=f"sqlite:///{tmp_path}/missing/dir/x.db"))
    study = open_prompt_study(_cfg(tmp_path))
    import optuna

    assert optuna.load_study(study_name=study.study_name, storage=f"sqlite:///{tmp_path}/optuna.db").metric_names \
        == ["val_accuracy"]
    with pytest.raises(ConfigError, match="ways=2, not 3"):
        open_prompt_study(_cfg(tmp_path, ways=3))
