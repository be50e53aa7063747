"""Meta-SGD (Li et al. 2017): one inner step with learned per-element rates, initialised in the paper
uniformly from [0.005, 0.1]; ``inner_lr`` is that initial value, searched over [1e-3, 0.5] (log).
The rates are learned, so the inner optimiser stays SGD (the paper's update is plain SGD)."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    return {**gbml(trial, sgd_lr=(1e-3, 0.5), steps=(1, 3), optimizers=("sgd",)), **outer(trial)}
