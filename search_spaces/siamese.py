"""Siamese Networks (Koch et al. 2015): no hyperparameters of its own here; the outer rate (Koch
et al. use SGD with momentum and layer-wise rates, we use Adam around 1e-3) and the episodes per
update are searched."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    return outer(trial, meta_batches=(1, 2, 4, 8))
