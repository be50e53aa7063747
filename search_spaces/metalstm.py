"""Meta-LSTM (Ravi & Larochelle 2017): the input gate starts at a small learning rate (``inner_lr``,
a sigmoid gate, searched over [1e-3, 0.1] log), the forget gate near 1 (``forget_init`` 0.9-0.999),
5 inner updates in the paper's 1-shot setting (1-10 searched), a 20-unit LSTM (10-40 searched),
Adam at 1e-3."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    params = {
        "inner_lr": trial.suggest_float("inner_lr", 1e-3, 0.1, log=True),
        "inner_steps": trial.suggest_int("inner_steps", 1, 10),
        "hidden_size": trial.suggest_categorical("hidden_size", [10, 20, 40]),
        "forget_init": trial.suggest_float("forget_init", 0.9, 0.999),
    }
    return {**params, **outer(trial, meta_batches=(1, 2, 4, 8))}
