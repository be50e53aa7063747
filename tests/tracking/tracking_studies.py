"""A study shaped like the tuner's, made with optuna directly, for the report tests."""

from __future__ import annotations

import math


def make_study(storage: str, name: str = "demo", n_trials: int = 12, seed: int = 0) -> str:
    """A study shaped like the tuner's (its user attrs and intermediate values), made with optuna directly:
    two algorithms, validation accuracy reported every 10 iterations, some trials pruned, one failed."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
    for key, value in {"benchmark": "glyphs", "ways": 5, "shots": 1, "metric": "accuracy"}.items():
        study.set_user_attr(key, value)

    def objective(trial: optuna.Trial) -> float:
        algorithm = trial.suggest_categorical("algorithm", ["maml", "protonet"])
        lr = trial.suggest_float("outer_lr", 1e-4, 1e-2, log=True)
        trial.set_user_attr("algorithm", algorithm)
        trial.set_user_attr("metric", "accuracy")
        if trial.number == 5:
            trial.set_user_attr("fail_reason", "TrainingDiverged: meta-loss became nan at iteration 3")
            raise FloatingPointError("diverged")
        ceiling = 0.9 if algorithm == "protonet" else 0.7
        value = 0.2
        for step in range(10, 60, 10):
            value = ceiling - (ceiling - 0.2) * math.exp(-step * lr * 20)
            trial.report(value, step)
            trial.set_user_attr("iterations_run", step)
            if trial.should_prune():
                trial.set_user_attr("pruned_at", step)
                raise optuna.TrialPruned()
        trial.set_user_attr("val_mean", value)
        trial.set_user_attr("val_ci95", 0.02 + 0.01 * (trial.number % 3))
        return value

    study.optimize(objective, n_trials=n_trials, catch=(FloatingPointError,))
    best = study.best_trial
    study.set_user_attr("best_trial", best.number)
    study.set_user_attr("best_test_mean", best.value - 0.03)
    study.set_user_attr("best_test_ci95", 0.015)
    study.set_user_attr("best_test_tasks", 600)
    return name
