"""KATE: the k pool examples nearest the query in sentence-embedding space (Liu et al., 2022)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike
from prompting.selectors.base import FittedSelector, Selector, need_encoder, top_k_ascending
from prompting.tasks.base import Example

__all__ = ["KNN"]


class _Fitted(FittedSelector):
    def __init__(self, pool: Sequence[Example], encoder: TextEncoder) -> None:
        super().__init__(pool)
        self.encoder = encoder
        self.keys = encoder.encode([e.text for e in self.pool])

    def select(self, query: str, k: int) -> list[Example]:
        sims = (self.keys @ self.encoder.encode([query])[0]).tolist()
        return [self.pool[i] for i in top_k_ascending(sims, k)]


class KNN(Selector):
    """Cosine similarity of unit-length MiniLM embeddings; order: least similar first, most similar last
    (KATE's "reversed" order, which it found best, places the nearest example next to the query)."""

    name = "knn"

    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0,
            prompt_format: PromptFormatLike = None) -> FittedSelector:
        return _Fitted(pool, need_encoder(encoder, self.name))
