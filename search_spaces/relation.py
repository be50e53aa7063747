"""Relation Networks (Sung et al. 2018): Adam at 1e-3, one episode per update; the relation
module's hidden layer is 8 units in the paper, searched over 4..64 (log)."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    return {"hidden": trial.suggest_int("hidden", 4, 64, log=True), **outer(trial, meta_batches=(1, 2, 4, 8))}
