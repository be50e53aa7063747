"""The frozen LM's own feedback on candidate demonstrations, and the selector that ranks by a trained scorer.

EPR-style (Rubin et al., 2022): for a training query drawn from the pool, each candidate is scored by how
much it, as the only demonstration, raises the LM's probability of the query's gold label (normalised over
the task's labels) over the zero-shot prompt. All of a pool's candidate prompts go to the LM in one call (its
memo means a prompt seen before costs nothing); the scorer trained from them (``_scorer.guarded_scorer``)
serves every k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import build_prompt, continuations
from prompting.selectors._scorer import GuardReport, ResidualScorer
from prompting.selectors.base import FittedSelector, top_k_ascending
from prompting.tasks.base import Example

__all__ = ["Feedback", "lm_feedback", "ScoredSelector"]


@dataclass(frozen=True)
class Feedback:
    """LM-scored candidates for one training query: ``gains[i]`` is the gold log-prob gain of ``candidates[i]``.
    ``group`` says which queries are validated together (one pool query, or one task of the meta selector)."""

    query: str
    candidates: tuple[str, ...]
    gains: np.ndarray
    group: int = 0


def lm_feedback(pool: Sequence[Example], labels: Mapping[str, str], *, lm: LabelScorer, encoder: TextEncoder,
                num_queries: int, num_candidates: int, rng: np.random.Generator,
                group: int | None = None) -> list[Feedback]:
    """Leave-one-out: each of ``num_queries`` pool examples is a query; its candidates are half its nearest
    neighbours by embedding (where the useful ones usually are) and half random others (so the scorer also
    sees what the embedding alone would miss). Each query is its own ``group`` unless ``group`` is given."""
    pool = list(pool)
    keys = encoder.encode([e.text for e in pool]).numpy()
    names = list(labels)
    plan = []
    for qi in rng.choice(len(pool), size=min(num_queries, len(pool)), replace=False):
        qi = int(qi)
        others = np.array([j for j in range(len(pool)) if j != qi])
        near = others[np.argsort(-(keys[others] @ keys[qi]), kind="stable")][: max(1, num_candidates // 2)]
        rest = np.setdiff1d(others, near)
        extra = rng.choice(rest, size=min(len(rest), num_candidates - len(near)), replace=False)
        plan.append((qi, [int(j) for j in np.concatenate([near, extra])]))
    prompts = []
    for qi, cands in plan:
        q = pool[qi].text
        prompts += [build_prompt(labels, [pool[j]], q) for j in cands] + [build_prompt(labels, [], q)]
    logp = torch.log_softmax(lm.label_logprobs(prompts, continuations(labels)).float(), dim=-1)
    out, row = [], 0
    for qi, cands in plan:
        gold = names.index(pool[qi].label)
        block = logp[row : row + len(cands) + 1, gold].numpy()
        row += len(cands) + 1
        out.append(Feedback(pool[qi].text, tuple(pool[j].text for j in cands), block[:-1] - block[-1],
                            qi if group is None else group))
    return out


class ScoredSelector(FittedSelector):
    """Top-k by a trained scorer; order: lowest score first, highest last (next to the query)."""

    def __init__(self, pool: Sequence[Example], encoder: TextEncoder, scorer: ResidualScorer,
                 report: GuardReport | None = None) -> None:
        super().__init__(pool)
        self.encoder = encoder
        self.scorer = scorer
        self.report = report  # what the guard chose (steps 0: the kNN start was kept)
        self.keys = encoder.encode([e.text for e in self.pool]).float()

    def select(self, query: str, k: int) -> list[Example]:
        with torch.no_grad():
            q = self.scorer.transform_queries(self.encoder.encode([query]).float())[0]
            sims = (self.keys @ q).tolist()
        return [self.pool[i] for i in top_k_ascending(sims, k)]
