"""The learned selector: EPR-style, trained on each task's own pool from the frozen LM's feedback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from metaopt.errors import ConfigError
from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.selectors._feedback import ScoredSelector, lm_feedback, train_scorer
from prompting.selectors.base import FittedSelector, Selector, need_encoder
from prompting.tasks.base import Example

__all__ = ["Learned"]


class Learned(Selector):
    """Scores ``num_candidates`` candidates for ``train_queries`` leave-one-out queries from the pool with
    the LM (``train_queries * (num_candidates + 1)`` prompts), then trains a dual encoder on best vs worst.
    Order: lowest learned score first, highest last (next to the query)."""

    name = "learned"

    def __init__(self, *, temperature: float = 0.1, encoder_lr: float = 1e-3, num_candidates: int = 8,
                 train_queries: int = 16, steps: int = 100, num_negatives: int = 3) -> None:
        if temperature <= 0 or encoder_lr <= 0 or num_candidates < 2 or train_queries < 1 or steps < 0:
            raise ConfigError(f"learned selector: bad hyperparameters temperature={temperature}, "
                              f"encoder_lr={encoder_lr}, num_candidates={num_candidates}, "
                              f"train_queries={train_queries}, steps={steps}")
        self.temperature, self.encoder_lr = temperature, encoder_lr
        self.num_candidates, self.train_queries = num_candidates, train_queries
        self.steps, self.num_negatives = steps, num_negatives

    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0) -> FittedSelector:
        encoder = need_encoder(encoder, self.name)
        feedback = lm_feedback(pool, labels, lm=lm, encoder=encoder, num_queries=self.train_queries,
                               num_candidates=self.num_candidates, rng=np.random.default_rng([seed, 31]))
        scorer = train_scorer(feedback, encoder, temperature=self.temperature, lr=self.encoder_lr,
                              steps=self.steps, num_negatives=self.num_negatives, seed=seed)
        return ScoredSelector(pool, encoder, scorer)
