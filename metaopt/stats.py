"""Mean ± 95% confidence interval, the one helper every printed interval goes through.

The half-width is t(0.975, n - 1) * s / sqrt(n): at n = 5 the normal 1.96 would be 30% too narrow
(t = 2.776). One value has no spread, so no interval: ``ci95`` is NaN and :func:`format_ci` says so.
Pure Python (no scipy import): the quantile is a table up to 30 degrees of freedom and a Cornish-Fisher
expansion above, within 1e-7 of scipy's ``stdtrit`` (tests/test_stats.py checks it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["t_quantile_975", "mean_ci95", "ci_or_none", "format_ci"]

# t(0.975, df) for df = 1..30.
_T975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
         2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
         2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z, v = _Z975, float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4))


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
