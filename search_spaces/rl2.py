"""RL^2 (Duan et al. 2016) trained with A2C: the paper used gamma 0.99 and GAE lambda 0.3 with
TRPO; A2C implementations of meta-RL bandits (Wang et al. 2016, "Learning to reinforcement
learn") use gamma 0.8-0.9, an LSTM of 48 units and RMSProp/Adam near 1e-3. We search gamma in
[0.8, 0.99], lambda in [0.3, 1], the entropy bonus over [1e-4, 0.1] (log), the value-loss weight
over [0.05, 1] (log), the GRU width in {32, 64, 128}, Adam over [3e-4, 1e-2] (log) and larger
meta-batches than the supervised spaces, since one meta-batch is one batch of trials."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    return {
        "hidden": trial.suggest_categorical("hidden", [32, 64, 128]),
        "gamma": trial.suggest_float("gamma", 0.8, 0.99),
        "gae_lambda": trial.suggest_float("gae_lambda", 0.3, 1.0),
        "entropy": trial.suggest_float("entropy", 1e-4, 0.1, log=True),
        "value_coef": trial.suggest_float("value_coef", 0.05, 1.0, log=True),
        **outer(trial, lr=(3e-4, 1e-2), meta_batches=(16, 32, 64)),
    }
