"""Search spaces of the prompt-example selectors (``prompting.selectors``), one per selector with something
to search, each a plain ``space(trial) -> dict``.

``space`` (the learned and meta-learned selectors): EPR (Rubin et al. 2022) trains its retriever with an
InfoNCE temperature and scores a few dozen LM-ranked candidates per query; on a 135M LM on one CPU core the
candidate count is the cost, so it is searched over 4-16. The scorer is a residual on the identity (kNN) of
rank 0-8 (0: diagonal only) with a weight on class prototypes, decayed toward it; its learning rate is for a
few thousand parameters, hence larger than an encoder's.
``context`` is how many nearest pool examples precede each scored candidate (0: EPR's one-shot feedback; 1-7:
the k-shot setting the selector is used in, up to the largest k less one).
The temperature and steps searched here are the centre and the largest of the grids the guard validates.
``bootstrap_space``: DSPy's random search draws 16 candidate sets by default and validates on a few dozen
examples; a task's pool holds 32, so 4-16 of them are validation. ``knn_space`` is k alone (kNN,
label-balanced kNN, BM25, random). Every space takes ``calibrate`` (contextual calibration, Zhao et al. 2021)
when built with ``calibration=True``.

``k`` (examples in the prompt) is searched over the values the comparison uses. These are not registered
meta-learners: ``metaopt prompt tune`` (``prompting.tune``) searches them on validation-class accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["space", "bootstrap_space", "knn_space", "selector_space"]

_K = [1, 2, 4, 8]


def space(trial: Any) -> dict[str, Any]:
    return {
        "k": trial.suggest_categorical("k", _K),
        "temperature": trial.suggest_float("temperature", 0.02, 1.0, log=True),
        "encoder_lr": trial.suggest_float("encoder_lr", 1e-3, 1e-1, log=True),
        "num_candidates": trial.suggest_int("num_candidates", 4, 16, step=2),
        "steps": trial.suggest_int("steps", 20, 300, log=True),
        "rank": trial.suggest_categorical("rank", [0, 1, 2, 4, 8]),
        "decay": trial.suggest_float("decay", 1e-4, 1e-1, log=True),
        "context": trial.suggest_int("context", 0, 7),
    }


def bootstrap_space(trial: Any) -> dict[str, Any]:
    return {
        "k": trial.suggest_categorical("k", _K),
        "num_sets": trial.suggest_int("num_sets", 4, 32, log=True),
        "val_size": trial.suggest_int("val_size", 4, 16),
    }


def knn_space(trial: Any) -> dict[str, Any]:
    return {"k": trial.suggest_categorical("k", _K)}


_SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "learned": space, "meta": space, "bootstrap": bootstrap_space, "knn": knn_space, "balanced_knn": knn_space,
    "bm25": knn_space, "random": knn_space,
}


def selector_space(selector: str, *, calibration: bool = False) -> Callable[[Any], dict[str, Any]]:
    """The space of ``selector``; with ``calibration`` it also searches the calibration switch."""
    from metaopt.errors import ConfigError

    if selector not in _SPACES:
        raise ConfigError(f"no search space for selector {selector!r}; have {', '.join(_SPACES)}")
    base = _SPACES[selector]
    if not calibration:
        return base

    def with_calibration(trial: Any) -> dict[str, Any]:
        return {**base(trial), "calibrate": trial.suggest_categorical("calibrate", [False, True])}

    return with_calibration
