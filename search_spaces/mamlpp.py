"""MAML++ (Antoniou et al. 2019): learned per-layer per-step rates initialised at 0.1, 5 steps,
Adam 1e-3 cosine-annealed (to ~1e-5, our ``min_lr_ratio`` 0.01), multi-step loss annealed over
the first ~15% of training (their 10 of 150 epochs is ~7%; we search 0-0.5), first order for the
first 50 of 150 epochs (our default 0.5; searched 0-1). The learned rates replace SGD's rate, so
the inner optimiser stays SGD, as in the paper."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    params = gbml(trial, sgd_lr=(1e-2, 1.0), steps=(1, 5), first_order=False, optimizers=("sgd",))
    params["msl_fraction"] = trial.suggest_float("msl_fraction", 0.0, 0.5)
    params["first_order_fraction"] = trial.suggest_float("first_order_fraction", 0.0, 1.0)
    params["min_lr_ratio"] = trial.suggest_float("min_lr_ratio", 1e-3, 1.0, log=True)
    return {**params, **outer(trial)}
