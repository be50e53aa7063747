"""TAML (Jamal & Qi 2019): MAML's settings plus the regulariser and its weight; the paper's
entropy weight is of order 0.1-1, searched over [1e-3, 1] (log). ``auto`` is entropy for
classification and Theil for regression; Theil works on both, so both are searched."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    params = gbml(trial)
    params["regulariser"] = trial.suggest_categorical("regulariser", ["auto", "theil"])
    params["weight"] = trial.suggest_float("weight", 1e-3, 1.0, log=True)
    return {**params, **outer(trial)}
