"""Means over tasks with Student-t 95% intervals, and differences paired by task.

Few-shot papers quote ``1.96 * s / sqrt(n)``; with the handful of tasks a prompt comparison can afford, the
t quantile is what the interval needs (2.78 at n = 5, not 1.96). At n = 1 there is no interval: ``nan``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# The one t-interval helper (scipy's t quantile); the name stays for prompting's callers.
from metaopt.stats import mean_ci95 as mean_t95

__all__ = ["mean_t95", "paired_t95", "format_interval"]


def paired_t95(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean of ``a - b`` over the same tasks and its t-based 95% half-width."""
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same tasks, got {len(a)} and {len(b)}")
    return mean_t95([x - y for x, y in zip(a, b)])


def format_interval(mean: float, half: float, scale: float = 100.0) -> str:
    """``"72.5 ± 3.1"``, or just ``"72.5"`` where the interval is undefined (one task)."""
    if math.isnan(half):
        return f"{scale * mean:.1f}"
    return f"{scale * mean:.1f} ± {scale * half:.1f}"
