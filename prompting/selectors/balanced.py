"""Label-balanced kNN: the nearest pool example of each class, then the next nearest of each, and so on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike
from prompting.selectors.base import FittedSelector, Selector, check_k, need_encoder
from prompting.tasks.base import Example

__all__ = ["BalancedKNN", "balanced_picks"]


def balanced_picks(sims: np.ndarray, labels: Sequence[str], k: int) -> list[int]:
    """Round robin over classes, nearest first within each class; classes whose nearest example is nearer
    the query go first in every round. Returned by ascending similarity (the most similar last)."""
    check_k(k)
    order = np.argsort(-sims, kind="stable")
    by_class: dict[str, list[int]] = {}
    for i in order:  # classes appear in order of their nearest example
        by_class.setdefault(labels[int(i)], []).append(int(i))
    picks: list[int] = []
    depth = 0
    while len(picks) < min(k, len(labels)):
        for members in by_class.values():
            if depth < len(members) and len(picks) < k:
                picks.append(members[depth])
        depth += 1
    return sorted(picks, key=lambda i: (sims[i], -i))


class _Fitted(FittedSelector):
    def __init__(self, pool: Sequence[Example], encoder: TextEncoder) -> None:
        super().__init__(pool)
        self.encoder = encoder
        self.keys = encoder.encode([e.text for e in self.pool]).float()
        self.labels = [e.label for e in self.pool]

    def select(self, query: str, k: int) -> list[Example]:
        sims = (self.keys @ self.encoder.encode([query])[0].float()).numpy().astype(np.float64)
        return [self.pool[i] for i in balanced_picks(sims, self.labels, k)]


class BalancedKNN(Selector):
    """kNN under a label-balance constraint: with k >= the number of classes every class is shown (the
    nearest example of each), so the prompt never lacks the query's own label. Order: least similar first,
    most similar last (next to the query), as for kNN."""

    name = "balanced_knn"

    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0,
            prompt_format: PromptFormatLike = None) -> FittedSelector:
        return _Fitted(pool, need_encoder(encoder, self.name))
