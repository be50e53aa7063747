"""Mean ± 95% confidence interval, the one helper every printed interval goes through.

The half-width is t(0.975, n - 1) * s / sqrt(n): at n = 5 the normal 1.96 would be 30% too narrow
(t = 2.776). One value has no spread, so no interval: ``ci95`` is NaN and :func:`format_ci` says so.
The quantile is scipy's (``scipy.stats.t``), imported on first use so that ``import metaopt`` stays fast.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

__all__ = ["t_quantile_975", "mean_ci95", "ci_or_none", "format_ci"]


@functools.lru_cache(maxsize=1024)
def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (t quantile); NaN half-width for one value,
    NaN for both with none."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t_quantile_975(n - 1) * math.sqrt(var / n)


def ci_or_none(ci95: float) -> float | None:
    """The half-width, or None where there is none (one value): for JSON, study attributes and MLflow, where a
    NaN would not survive or would read as a number."""
    return None if math.isnan(ci95) else ci95


def format_ci(mean: float, ci95: float | None, *, scale: float = 1.0, unit: str = "", digits: int = 2) -> str:
    """``"12.34 ± 0.56"`` (times ``scale``, with ``unit`` after each number), or ``"12.34 (no interval:
    one value)"`` where there is no interval."""
    text = f"{mean * scale:.{digits}f}{unit}"
    if ci95 is None or math.isnan(ci95):
        return f"{text} (no interval: one value)"
    return f"{text} ± {ci95 * scale:.{digits}f}{unit}"
