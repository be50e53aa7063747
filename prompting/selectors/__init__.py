"""Few-shot example selectors sharing ``fit(pool, *, lm, labels, encoder, seed)`` -> ``select(query, k)``."""

from __future__ import annotations

from typing import Any

from metaopt.errors import ConfigError
from prompting.selectors.balanced import BalancedKNN
from prompting.selectors.base import FittedSelector, Selector
from prompting.selectors.bm25 import BM25
from prompting.selectors.bootstrap import BootstrapRandomSearch
from prompting.selectors.knn import KNN
from prompting.selectors.learned import Learned
from prompting.selectors.meta import MetaLearned
from prompting.selectors.simple import RandomK, ZeroShot

__all__ = ["Selector", "FittedSelector", "ZeroShot", "RandomK", "KNN", "BalancedKNN", "BM25",
           "BootstrapRandomSearch", "Learned", "MetaLearned", "SELECTORS", "make_selector"]

SELECTORS: dict[str, type[Selector]] = {
    cls.name: cls for cls in (ZeroShot, RandomK, KNN, BalancedKNN, BM25, BootstrapRandomSearch, Learned, MetaLearned)
}


def make_selector(name: str, **params: Any) -> Selector:
    """A selector by name; ``params`` that the selector does not take are ignored (one config serves all)."""
    try:
        cls = SELECTORS[name]
    except KeyError:
        raise ConfigError(f"unknown selector {name!r}; choose from {', '.join(SELECTORS)}") from None
    import inspect

    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in params.items() if k in accepted})
