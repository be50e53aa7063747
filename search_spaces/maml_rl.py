"""Policy-gradient MAML (Finn et al. 2017, section 5.3): the paper's 2-D navigation uses inner rate 0.1,
one inner step, 20 trajectories per step, 20 tasks per meta-batch, gamma 0.99, a (100, 100) policy and
TRPO; ProMP (Rothfuss et al. 2019) uses a clipped outer objective with 0.2-0.3 and 3-5 passes per batch.
We search the inner rate over [0.01, 1] (log), 1-3 inner steps, 10-40 trajectories, gamma over
[0.9, 0.99], the clip over [0.1, 0.3], 1-5 outer passes, the width in {32, 64, 100}, both second-order
estimators, Adam over [3e-4, 3e-2] (log) and meta-batches of 10-40 tasks. Scored by regret, as every
RL benchmark is."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def common(trial: Any) -> dict[str, Any]:
    """The knobs both variants share."""
    return {
        "inner_lr": trial.suggest_float("inner_lr", 0.01, 1.0, log=True),
        "inner_steps": trial.suggest_int("inner_steps", 1, 3),
        "episodes": trial.suggest_categorical("episodes", [10, 20, 40]),
        "gamma": trial.suggest_float("gamma", 0.9, 0.99),
        "clip": trial.suggest_float("clip", 0.1, 0.3),
        "outer_epochs": trial.suggest_int("outer_epochs", 1, 5),
        "hidden": trial.suggest_categorical("hidden", [32, 64, 100]),
        **outer(trial, lr=(3e-4, 3e-2), meta_batches=(10, 20, 40)),
    }


def space(trial: Any) -> dict[str, Any]:
    return {**common(trial), "estimator": trial.suggest_categorical("estimator", ["dice", "exact"])}
