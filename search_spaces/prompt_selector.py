"""The learned / meta-learned prompt-example selector (``prompting.selectors``): EPR (Rubin et al. 2022)
trains its retriever with an InfoNCE temperature-like scale and a small encoder learning rate and scores a
few dozen LM-ranked candidates per query; on a 135M LM on one CPU core the candidate count is the cost, so
it is searched over 4-16. ``k`` (examples in the prompt) is searched over the values the comparison uses.

This is not a registered meta-learner: ``metaopt prompt tune`` (``prompting.tune``) searches it, the
objective being held-out *validation-class* accuracy of the ``learned`` or ``meta`` selector at this k.
"""

from __future__ import annotations

from typing import Any


def space(trial: Any) -> dict[str, Any]:
    return {
        "k": trial.suggest_categorical("k", [1, 2, 4, 8]),
        "temperature": trial.suggest_float("temperature", 0.02, 1.0, log=True),
        "encoder_lr": trial.suggest_float("encoder_lr", 1e-4, 1e-2, log=True),
        "num_candidates": trial.suggest_int("num_candidates", 4, 16, step=2),
        "steps": trial.suggest_int("steps", 20, 300, log=True),
    }
