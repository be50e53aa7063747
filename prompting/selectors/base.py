"""The selector protocol: ``fit(pool, *, lm, ...)`` returns a fitted selector; ``select(query, k)`` picks examples.

Every selector documents the ORDER of what it returns, since the order is part of the method: the
example nearest the end of the prompt sits next to the query.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from metaopt.errors import ConfigError
from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike
from prompting.tasks.base import Example

__all__ = ["Selector", "FittedSelector", "query_rng", "check_k", "need_encoder", "top_k_ascending"]


class FittedSelector(ABC):
    """A selector bound to one candidate pool."""

    def __init__(self, pool: Sequence[Example]) -> None:
        self.pool = tuple(pool)

    @abstractmethod
    def select(self, query: str, k: int) -> list[Example]:
        """``k`` examples from the pool (all of it if smaller), in prompt order."""


class Selector(ABC):
    """Hyperparameters of one selection method; ``fit`` never mutates ``self`` (one selector, many pools)."""

    name: ClassVar[str]

    @abstractmethod
    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0,
            prompt_format: PromptFormatLike = None) -> FittedSelector:
        """Bind to ``pool``. ``labels`` maps each class in the pool to its verbaliser; selectors that ask the LM
        build their prompts in ``prompt_format`` (None: the task families' default format)."""

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


def query_rng(seed: int, query: str) -> np.random.Generator:
    """A generator fixed by the seed and the query text, so results do not depend on call order."""
    return np.random.default_rng([seed, zlib.crc32(query.encode("utf-8"))])


def check_k(k: int) -> None:
    if k < 0:
        raise ConfigError(f"k must be non-negative, got {k}")


def need_encoder(encoder: TextEncoder | None, name: str) -> TextEncoder:
    if encoder is None:
        raise ConfigError(f"the {name} selector needs a sentence encoder (encoder=...)")
    return encoder


def top_k_ascending(scores: Sequence[float] | np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` highest scores, lowest first, so the best example ends up next to the query.

    Ties break by pool position (stable), which keeps selection deterministic.
    """
    check_k(k)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]
    return [int(i) for i in order[::-1]]
