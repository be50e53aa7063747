"""MAML (Finn et al. 2017): inner SGD at 0.01 (sinusoid) to 0.4 (Omniglot 5-way), 1-5 steps,
Adam 1e-3 outside, meta-batch 25-32; first and second order both searched."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    return {**gbml(trial), **outer(trial)}
