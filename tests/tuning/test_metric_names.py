"""Studies made by ``metaopt tune`` name their objectives (optuna-dashboard shows them instead of "Objective 0"):
on a real SQLite file, on resume without a write, and when several processes create the study at once."""

from __future__ import annotations

import multiprocessing

import optuna
import pytest

from metaopt.errors import ConfigError
from metaopt.tuning import TuneConfig, tune
from metaopt.tuning._study import load_study, metric_names, resolve

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _config(tmp_path, **kwargs) -> TuneConfig:
    base = dict(benchmark="sinusoid", shots=5, algorithms=["fomaml"], trials=2, iterations=2, val_every=1,
                val_tasks=3, test_tasks=5, sampler="random", pruner="none", study="s",
                storage=f"sqlite:///{tmp_path}/optuna.db", tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
                runs_dir=str(tmp_path / "runs"), register_model=False, progress=False)
    return TuneConfig(**{**base, **kwargs})


def test_names_follow_the_objectives():
    assert metric_names(TuneConfig("x", objectives=["accuracy"])) == ["val_accuracy"]
    assert metric_names(TuneConfig("x", objectives=["regret"])) == ["val_regret"]
    assert metric_names(TuneConfig("x", objectives=["mse", "time"])) == ["val_mse", "seconds_per_iteration"]


def test_a_tuned_sqlite_study_has_metric_names(tmp_path):
    tune(_config(tmp_path, objectives=["mse", "time"]))
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    assert study.metric_names == ["val_mse", "seconds_per_iteration"]
    frame = study.trials_dataframe(multi_index=True)
    assert sorted(frame["values"].columns) == ["seconds_per_iteration", "val_mse"]


def test_resume_writes_nothing_and_an_unnamed_study_gets_named(tmp_path, monkeypatch):
    cfg = resolve(_config(tmp_path))
    storage = f"sqlite:///{tmp_path}/optuna.db"
    optuna.create_study(study_name="s", storage=storage)  # made before metaopt named its metrics
    assert optuna.load_study(study_name="s", storage=storage).metric_names is None
    load_study(cfg)
    assert optuna.load_study(study_name="s", storage=storage).metric_names == ["val_mse"]

    def no_write(self, names):
        raise AssertionError("a resume rewrote the metric names")

    monkeypatch.setattr(optuna.Study, "set_metric_names", no_write)
    load_study(cfg)


def test_a_refused_study_keeps_its_names(tmp_path):
    storage = f"sqlite:///{tmp_path}/optuna.db"
    other = optuna.create_study(study_name="s", storage=storage)
    other.set_user_attr("shots", 10)
    other.set_metric_names(["theirs"])
    with pytest.raises(ConfigError, match="shots=10"):
        load_study(resolve(_config(tmp_path)))
    assert optuna.load_study(study_name="s", storage=storage).metric_names == ["theirs"]


def test_losing_the_race_to_name_the_study_is_harmless(tmp_path, monkeypatch):
    cfg = resolve(_config(tmp_path))
    real = optuna.Study.set_metric_names

    def beaten(self, names):
        real(self, names)  # another host got there first with the same names ...
        raise RuntimeError("UNIQUE constraint failed: study_system_attributes.study_id, key")  # ... so ours fails

    monkeypatch.setattr(optuna.Study, "set_metric_names", beaten)
    assert load_study(cfg).metric_names == ["val_mse"]

    def failed(self, names):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(optuna.Study, "set_metric_names", failed)
    with pytest.raises(RuntimeError, match="gone"):  # a real failure, names not written: not hidden
        load_study(resolve(_config(tmp_path, study="t")))


def _create(cfg: TuneConfig, barrier, worker: int) -> None:
    barrier.wait()
    load_study(cfg, worker=worker)


def test_workers_creating_the_study_at_once(tmp_path):
    cfg = resolve(_config(tmp_path, objectives=["mse", "time"]))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_create, args=(cfg, barrier, i)) for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    study = optuna.load_study(study_name="s", storage=cfg.storage)
    assert study.metric_names == ["val_mse", "seconds_per_iteration"]
