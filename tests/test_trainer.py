"""Trainer: validation, best checkpoint, early stopping, divergence, safe checkpoint loading."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

from metaopt.callbacks import Callback
from metaopt.checkpoint import load_checkpoint
from metaopt.errors import ConfigError
from metaopt.evaluation import mean_ci95
from metaopt.runs import RunConfig, build_run
from metaopt.trainer import TrainConfig, TrainingDiverged


def _run(**train):
    base = {"iterations": 20, "meta_batch": 4, "val_every": 5, "val_tasks": 20}
    return build_run(RunConfig("maml", "sinusoid", shots=5, queries=5, train={**base, **train}))


def test_mean_ci95_matches_the_textbook_formula():
    values = [0.0, 1.0, 1.0, 0.0, 1.0]
    mean, ci = mean_ci95(values)
    assert mean == pytest.approx(0.6)
    assert ci == pytest.approx(2.776445 * math.sqrt(0.3 / 5))  # t(0.975, 4 degrees of freedom), not 1.96


def test_validation_history_and_checkpoint(tmp_path):
    trainer = _run().trainer(tmp_path, progress=False)
    trainer.fit()
    assert [h["iteration"] for h in trainer.state.history] == [5, 10, 15, 20]
    data = load_checkpoint(tmp_path)
    assert data["trainer"]["iteration"] == 20 and data["best_state"]


def test_callbacks_see_every_iteration_and_validation():
    seen = {"it": 0, "val": 0}

    class Count(Callback):
        def on_iteration_end(self, trainer, iteration, metrics):
            seen["it"] += 1

        def on_validation_end(self, trainer, iteration, result):
            seen["val"] += 1

    _run().trainer(progress=False, callbacks=[Count()]).fit()
    assert seen == {"it": 20, "val": 4}


def test_early_stopping_stops_and_records_why():
    trainer = _run(iterations=200, val_every=1, patience=1, outer_lr=1e-9).trainer(progress=False)
    state = trainer.fit().state
    assert state.stopped_early and state.iteration < 200


def test_nan_loss_raises_training_diverged():
    trainer = _run(outer_lr=1e6).trainer(progress=False)
    with torch.no_grad():
        for p in trainer.learner.parameters():
            p.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="nan"):
        trainer.fit()


def test_bad_train_config_is_rejected():
    with pytest.raises(ConfigError, match="meta_batch"):
        TrainConfig(meta_batch=0).validate()


def test_checkpoints_never_unpickle_arbitrary_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "checkpoint.pt", "wb") as fh:
        pickle.dump({"x": Evil()}, fh)
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path)


def test_evaluation_counts_diverged_tasks():
    from metaopt.evaluation import evaluate_tasks

    run = _run()
    run.learner.config.inner_lr = 1e6  # a rate that sends adaptation to infinity
    result = evaluate_tasks(run.learner, run.sources["test"].fixed_tasks(5, 0), steps=5)
    assert result.diverged == 5 and math.isnan(result.mean) and "diverged on 5 tasks" in str(result)


def test_grad_clip_bounds_the_outer_gradient_norm():
    norms = []
    trainer = _run(iterations=3, grad_clip=1e-3, outer_lr=1.0).trainer(progress=False)

    def record(optimizer, args, kwargs):
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    trainer.optimizer.register_step_pre_hook(record)  # runs after the clipping hook
    trainer.fit()
    assert norms and max(norms) <= 1e-3 * (1 + 1e-5)


def test_training_time_adds_up_across_a_resume(tmp_path):
    first = _run(iterations=10).trainer(tmp_path, progress=False)
    first.config.iterations = 5  # a run whose budget was later raised: it resumes where it stopped
    first.fit()
    spent = first.state.train_seconds
    assert spent > 0
    second = _run(iterations=10).trainer(tmp_path, progress=False)
    second.fit()
    assert second.state.iteration == 10 and second.state.train_seconds > spent


def test_progress_bar_shows_last_and_best_validation(capsys):
    trainer = _run(iterations=10, val_every=5).trainer(progress=True)
    trainer.fit()
    final = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    state = trainer.state
    assert "10/10" in final
    assert f"val={state.history[-1]['val']:.4f}" in final
    assert f"best={state.best:.4f}@{state.best_iteration}" in final
