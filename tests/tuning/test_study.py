"""Real studies in this process: SQLite and journal storages, NaN trials, pruned trials, resume,
several objectives; MLflow child runs under the study's parent run, never left RUNNING."""

from __future__ import annotations

import math

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from metaopt.tuning import TuneConfig, tune

optuna.logging.set_verbosity(optuna.logging.WARNING)


def nan_on_second_trial(trial):
    """A MAML space on sinusoids whose second trial's inner rate blows the loss up to inf/NaN."""
    lr = 1e30 if trial.number == 1 else trial.suggest_float("inner_lr", 1e-3, 1e-2, log=True)
    return {"algorithm": "maml", "inner_lr": lr, "meta_batch": 2, "first_order": True}


def _config(tmp_path, **kwargs):
    base = dict(benchmark="sinusoid", shots=5, space=nan_on_second_trial, trials=3, iterations=4, val_every=2,
                val_tasks=5, test_tasks=20, sampler="random", pruner="none", study="s",
                storage=f"sqlite:///{tmp_path}/optuna.db", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                runs_dir=str(tmp_path / "runs"), register_model=False, progress=False)
    return TuneConfig(**{**base, **kwargs})


def _runs(tmp_path, experiment="s"):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id])


def test_sqlite_study_with_a_nan_trial_then_resumed(tmp_path):
    summary = tune(_config(tmp_path))
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    failed = study.trials[1]
    assert "TrainingDiverged" in failed.user_attrs["fail_reason"]
    for t in (study.trials[0], study.trials[2]):
        assert t.user_attrs["algorithm"] == "maml" and t.user_attrs["metric"] == "mse"
        assert len(t.user_attrs["val_scores"]) == 5 and t.user_attrs["iterations_run"] == 4
        assert sorted(t.intermediate_values) == [2, 4] and math.isfinite(t.user_attrs["val_mean"])
    attrs = study.user_attrs
    assert attrs["benchmark"] == "sinusoid" and attrs["metric"] == "mse" and attrs["shots"] == 5
    assert attrs["best_trial"] == summary["best_trial"] and math.isfinite(attrs["best_test_mean"])
    assert summary["test_tasks"] == 20 and summary["iterations_spent"] == 4 + 4 + failed.user_attrs["iterations_run"]

    runs = {r.info.run_id: r for r in _runs(tmp_path)}
    parent = attrs["mlflow_parent_run_id"]
    assert len(runs) == 4 and all(r.info.status != "RUNNING" for r in runs.values())
    children = [r for r in runs.values() if r.info.run_id != parent]
    assert all(r.data.tags["mlflow.parentRunId"] == parent for r in children)
    by_trial = {int(r.data.tags["trial_number"]): r for r in children}
    assert by_trial[1].info.status == "FAILED" and by_trial[1].data.tags["trial_state"] == "FAILED"
    assert by_trial[0].info.status == "FINISHED" and by_trial[0].data.tags["trial_state"] == "COMPLETE"
    assert "test_mse" in runs[parent].data.metrics

    values = [t.value for t in study.trials]
    again = tune(_config(tmp_path, trials=4))  # the same study, one more trial
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    assert len(study.trials) == 4 and [t.value for t in study.trials[:3]] == values
    assert again["mlflow_parent_run_id"] == parent


def test_pruned_trial_ends_its_run_finished_with_a_pruned_tag(tmp_path, monkeypatch):
    import metaopt.tuning._study as study_module

    # A pruner that prunes every trial at its first report: MSE is always above -1.
    monkeypatch.setattr(study_module, "make_pruner", lambda *a, **k: optuna.pruners.ThresholdPruner(upper=-1.0))
    space = "search_spaces.fomaml:space"
    summary = tune(_config(tmp_path, space=space, algorithms=["fomaml"], trials=1, iterations=6))
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED and trial.user_attrs["pruned_at"] == 2
    assert summary["iterations_spent"] == 2 and summary["best_trial"] is None
    (child,) = [r for r in _runs(tmp_path) if "trial_number" in r.data.tags]
    assert child.info.status == "FINISHED" and child.data.tags["trial_state"] == "PRUNED"
    assert child.data.tags["pruned_at"] == "2"
    assert not (tmp_path / "runs" / "s" / "trial-0000").exists()  # pruned trials keep no checkpoint


def test_journal_storage_study_resumes(tmp_path):
    cfg = dict(storage=f"journal:{tmp_path}/study.log", trials=1, space="search_spaces.fomaml:space",
               algorithms=["fomaml"])
    first = tune(_config(tmp_path, **cfg))
    second = tune(_config(tmp_path, **{**cfg, "trials": 2}))
    assert first["states"]["complete"] == 1 and second["states"]["complete"] == 2
    assert second["best_trial"] in (0, 1)


def test_two_objectives_return_the_pareto_front(tmp_path):
    summary = tune(_config(tmp_path, objectives=["mse", "time"], sampler="nsga2", trials=3, study="mo",
                           space="search_spaces.fomaml:space", algorithms=["fomaml"]))
    front = summary["pareto_front"]
    assert front and all(len(p["values"]) == 2 and p["values"][1] > 0 for p in front)
    assert summary["pruner"] == "none" and math.isfinite(summary["test_mean"])


def test_bad_study_configs_are_config_errors(tmp_path):
    from metaopt.errors import ConfigError

    with pytest.raises(ConfigError, match="nope"):
        tune(_config(tmp_path, space=None, algorithms=["maml", "nope"]))
    with pytest.raises(ConfigError, match="trials"):
        tune(_config(tmp_path, trials=0))
    with pytest.raises(ConfigError, match="prune"):
        tune(_config(tmp_path, objectives=["mse", "time"], pruner="median"))
    with pytest.raises(ConfigError, match="cannot handle"):
        tune(_config(tmp_path, space=None, algorithms=["protonet"]))
