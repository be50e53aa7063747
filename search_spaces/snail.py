"""SNAIL (Mishra et al. 2018): Adam at 1e-3 (the paper's), TC filters 128 and attention keys/values
(64, 32) to (256, 128) on Omniglot; smaller sizes are searched because we train on a CPU budget."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    params = {
        "filters": trial.suggest_categorical("filters", [32, 64, 128]),
        "tc_layers": trial.suggest_int("tc_layers", 2, 6),
        "key_size": trial.suggest_categorical("key_size", [32, 64, 128]),
        "value_size": trial.suggest_categorical("value_size", [16, 32, 64]),
    }
    return {**params, **outer(trial, meta_batches=(1, 2, 4, 8))}
