"""Prototypical Networks (Snell et al. 2017): Adam at 1e-3 (halved every 2,000 episodes in the
paper), one episode per update; squared Euclidean distance, which the paper shows beats cosine.
Both distances are searched; the cosine's scale (a softmax temperature) over [1, 100], log."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"distance": trial.suggest_categorical("distance", ["euclidean", "cosine"])}
    if params["distance"] == "cosine":
        params["cosine_scale"] = trial.suggest_float("cosine_scale", 1.0, 100.0, log=True)
    return {**params, **outer(trial, meta_batches=(1, 2, 4, 8))}
