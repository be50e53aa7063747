"""Matching Networks (Vinyals et al. 2016): Adam at 1e-3 as in common reimplementations (the paper
gives no rate), one or a few episodes per update; full-context embeddings on or off, and with them
1..10 attention-LSTM read steps (the paper does not state its count); the cosine attention's scale
(a softmax temperature; the paper's is 1) over [1, 30], log."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"fce": trial.suggest_categorical("fce", [False, True]),
                              "cosine_scale": trial.suggest_float("cosine_scale", 1.0, 30.0, log=True)}
    if params["fce"]:
        params["fce_steps"] = trial.suggest_int("fce_steps", 1, 10)
    return {**params, **outer(trial, meta_batches=(1, 2, 4, 8))}
