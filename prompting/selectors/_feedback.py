"""The frozen LM's own feedback on candidate demonstrations, and the dual encoder trained from it.

EPR-style (Rubin et al., 2022): for a training query drawn from the pool, each candidate is scored by how
much it, as the only demonstration, raises the LM's probability of the query's gold label (normalised over
the task's labels) over the zero-shot prompt. A dual encoder is then trained contrastively so the best
candidate outscores the worst ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import build_prompt, continuations
from prompting.selectors.base import FittedSelector, top_k_ascending
from prompting.tasks.base import Example

__all__ = ["Feedback", "lm_feedback", "PairScorer", "train_scorer", "ScoredSelector"]


@dataclass(frozen=True)
class Feedback:
    """LM-scored candidates for one training query: ``gains[i]`` is the gold log-prob gain of ``candidates[i]``."""

    query: str
    candidates: tuple[str, ...]
    gains: np.ndarray


def lm_feedback(pool: Sequence[Example], labels: Mapping[str, str], *, lm: LabelScorer, encoder: TextEncoder,
                num_queries: int, num_candidates: int, rng: np.random.Generator) -> list[Feedback]:
    """Leave-one-out: each of ``num_queries`` pool examples is a query; its candidates are half its nearest
    neighbours by embedding (where the useful ones usually are) and half random others (so the scorer also
    sees what the embedding alone would miss)."""
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
        out.append(Feedback(pool[qi].text, tuple(pool[j].text for j in cands), block[:-1] - block[-1]))
    return out


class PairScorer(nn.Module):
    """Query and candidate projections over frozen sentence embeddings, initialised to the identity so an
    untrained scorer ranks exactly like kNN; training moves it towards what the LM found useful."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.cand = nn.Linear(dim, dim)
        for layer in (self.query, self.cand):
            nn.init.eye_(layer.weight)
            nn.init.zeros_(layer.bias)

    def embed_queries(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.query(x), dim=-1)

    def embed_candidates(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.cand(x), dim=-1)


def train_scorer(feedback: Sequence[Feedback], encoder: TextEncoder, *, temperature: float = 0.1,
                 lr: float = 1e-3, steps: int = 100, num_negatives: int = 3, batch_size: int = 32,
                 seed: int = 0) -> PairScorer:
    """InfoNCE: for each query, its best candidate against its ``num_negatives`` worst ones."""
    scorer = PairScorer(encoder.dim)
    usable = [f for f in feedback if len(f.candidates) >= 2]
    if not usable or steps == 0:
        return scorer.eval()
    m = min(num_negatives, min(len(f.candidates) for f in usable) - 1)
    q = encoder.encode([f.query for f in usable])
    pos, neg = [], []
    for f in usable:
        order = np.argsort(-f.gains, kind="stable")
        pos.append(f.candidates[int(order[0])])
        neg += [f.candidates[int(j)] for j in order[::-1][:m]]
    p = encoder.encode(pos)
    n = encoder.encode(neg).reshape(len(usable), m, -1)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(scorer.parameters(), lr=lr)
    scorer.train()
    for _ in range(steps):
        idx = torch.randperm(len(usable), generator=gen)[:batch_size]
        qe = scorer.embed_queries(q[idx])
        pe = scorer.embed_candidates(p[idx])
        ne = scorer.embed_candidates(n[idx])
        logits = torch.cat([(qe * pe).sum(-1, keepdim=True), torch.einsum("bd,bmd->bm", qe, ne)], 1) / temperature
        loss = nn.functional.cross_entropy(logits, torch.zeros(len(idx), dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return scorer.eval()


class ScoredSelector(FittedSelector):
    """Top-k by a trained scorer; order: lowest score first, highest last (next to the query)."""

    def __init__(self, pool: Sequence[Example], encoder: TextEncoder, scorer: PairScorer) -> None:
        super().__init__(pool)
        self.encoder = encoder
        self.scorer = scorer
        with torch.no_grad():
            self.keys = scorer.embed_candidates(encoder.encode([e.text for e in self.pool]))

    def select(self, query: str, k: int) -> list[Example]:
        with torch.no_grad():
            sims = (self.keys @ self.scorer.embed_queries(self.encoder.encode([query]))[0]).tolist()
        return [self.pool[i] for i in top_k_ascending(sims, k)]
