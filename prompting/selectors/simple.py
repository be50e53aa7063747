"""Zero-shot and random k-shot: the baselines every selector must beat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike
from prompting.selectors.base import FittedSelector, Selector, check_k, query_rng
from prompting.tasks.base import Example

__all__ = ["ZeroShot", "RandomK"]


class _Nothing(FittedSelector):
    def select(self, query: str, k: int) -> list[Example]:
        check_k(k)
        return []


class ZeroShot(Selector):
    """No demonstrations whatever k is: the prompt is the instruction and the query."""

    name = "zero"

    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0,
            prompt_format: PromptFormatLike = None) -> FittedSelector:
        return _Nothing(pool)


class _Random(FittedSelector):
    def __init__(self, pool: Sequence[Example], seed: int) -> None:
        super().__init__(pool)
        self.seed = seed

    def select(self, query: str, k: int) -> list[Example]:
        check_k(k)
        picks = query_rng(self.seed, query).permutation(len(self.pool))[:k]
        return [self.pool[int(i)] for i in picks]


class RandomK(Selector):
    """k examples drawn uniformly without replacement, in random order.

    The draw is fixed by the seed and the query text, so a query gets the same demonstrations however
    many other queries came first; the k-example set is the first k of one permutation, so the
    2-shot set contains the 1-shot set.
    """

    name = "random"

    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0,
            prompt_format: PromptFormatLike = None) -> FittedSelector:
        return _Random(pool, seed)
