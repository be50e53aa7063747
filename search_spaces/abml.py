"""ABML (Ravi & Beatson 2019): MAML's inner-loop ranges (see ``_common``) for the posterior's
inner SGD, plus the KL weight over [1e-6, 1e-2] (log; the paper down-weights the KL of a deep
network's ~10^5 weights against a handful of support examples), the prior's initial log-std in
[-6, -2], and 1-3 weight samples per ELBO estimate (the paper uses few; each costs a forward)."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    return {
        **gbml(trial, optimizers=("sgd",)),
        "kl_weight": trial.suggest_float("kl_weight", 1e-6, 1e-2, log=True),
        "init_log_sigma": trial.suggest_float("init_log_sigma", -6.0, -2.0),
        "samples": trial.suggest_int("samples", 1, 3),
        **outer(trial),
    }
