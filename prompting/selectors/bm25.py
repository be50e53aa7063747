"""BM25 (Okapi) retrieval of demonstrations by lexical overlap with the query."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from metaopt.errors import ConfigError
from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike
from prompting.selectors.base import FittedSelector, Selector, top_k_ascending
from prompting.tasks.base import Example

__all__ = ["BM25", "bm25_scores", "tokenize"]

_WORD = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def bm25_scores(docs: Sequence[Sequence[str]], query: Sequence[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 of each tokenised document for a tokenised query, with the non-negative IDF
    ``log(1 + (N - n + 0.5) / (n + 0.5))`` (Lucene's), so common words never subtract."""
    n_docs = len(docs)
    if n_docs == 0:
        return []
    avg_len = sum(len(d) for d in docs) / n_docs or 1.0
    df = Counter(t for d in docs for t in set(d))
    counts = [Counter(d) for d in docs]
    scores = []
    for doc, tf in zip(docs, counts):
        norm = k1 * (1 - b + b * len(doc) / avg_len)
        s = 0.0
        for term in set(query):
            if term in tf:
                idf = math.log(1 + (n_docs - df[term] + 0.5) / (df[term] + 0.5))
                s += idf * tf[term] * (k1 + 1) / (tf[term] + norm)
        scores.append(s)
    return scores


class _Fitted(FittedSelector):
    def __init__(self, pool: Sequence[Example], k1: float, b: float) -> None:
        super().__init__(pool)
        self.docs = [tokenize(e.text) for e in self.pool]
        self.k1, self.b = k1, b

    def select(self, query: str, k: int) -> list[Example]:
        scores = bm25_scores(self.docs, tokenize(query), self.k1, self.b)
        return [self.pool[i] for i in top_k_ascending(scores, k)]


class BM25(Selector):
    """Top-k pool examples by BM25 score; order: lowest score first, best match last (next to the query).
    Examples with no word in common score 0 and are taken in pool order when fewer than k match."""

    name = "bm25"

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ConfigError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b

    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0,
            prompt_format: PromptFormatLike = None) -> FittedSelector:
        return _Fitted(pool, self.k1, self.b)
