"""A scorer that starts as kNN and is trained from LM feedback only as far as held-out feedback says it helps.

The scorer is ``s(q, c) = t(q)^T (c + b p_c)`` with ``t(q) = (I + diag(d) + U V^T) q`` over frozen unit-length
sentence embeddings, where ``p_c`` is the prototype of candidate ``c``'s class in the pool (the mean embedding
of its label's examples): a residual on the identity with ``dim + 2 * dim * rank + 1`` parameters (3.5k for
MiniLM at rank 4, against 295k for the two full projections it replaces), decayed toward the identity. At its
start (all residuals and ``b`` zero) it ranks exactly like kNN. ``b`` is one number that the LM feedback can
raise where candidates from the query's own class help (k-shot prompts whose demonstrations share the query's
label let the LM copy it): on 8 WordNet validation tasks, ranking with ``b = 1`` lifted the share of
same-label demonstrations at k = 4 from 72% to 81% and SmolLM2's accuracy from 77.8% to 83.1%.

The guard: the feedback's queries are split into folds by *group* (one query of a pool for the ``learned``
selector, one task for ``meta``, so ``meta`` is validated on tasks whose classes it did not train on). For each
temperature, the scorer is trained on all folds but one and its ranking of the held-out fold's candidates is
scored at several step counts, 0 (the kNN start) included. The (temperature, steps) with the best mean held-out
value wins; unless it beats the start by more than ``min_gain`` the result is the start itself. Only then is the
scorer trained on all the feedback with the chosen pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from prompting.encoder import TextEncoder

__all__ = ["ResidualScorer", "FeedbackTensors", "GuardReport", "guarded_scorer", "ranking_value"]


class ResidualScorer(nn.Module):
    """``q -> q + q * d + (q U) V^T``, then ``q . (c + proto * p_c)``; candidates stay as they are, so pool
    keys need no re-encoding."""

    def __init__(self, dim: int, rank: int = 4, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.diag = nn.Parameter(torch.zeros(dim))
        # U small and random, V zero: the product starts at zero yet V receives gradients from the first step.
        self.u = nn.Parameter(torch.randn(dim, rank, generator=gen) / dim**0.5)
        self.v = nn.Parameter(torch.zeros(dim, rank))
        self.proto = nn.Parameter(torch.zeros(()))  # weight of the candidate's class prototype

    def transform_queries(self, q: torch.Tensor) -> torch.Tensor:
        return q + q * self.diag + (q @ self.u) @ self.v.T

    def score(self, qt: torch.Tensor, c: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """``[n, m]`` scores of transformed queries ``qt [n, d]`` for candidates ``c [n, m, d]`` with class
        prototypes ``p [n, m, d]``."""
        return torch.einsum("nd,nmd->nm", qt, c + self.proto * p)

    def is_identity(self) -> bool:
        return bool(torch.all(self.diag == 0)) and bool(torch.all(self.v == 0)) and bool(self.proto == 0)

    def load_state_dict(self, state: Any, strict: bool = True, assign: bool = False) -> Any:
        # scorers saved before the prototype weight existed load with it at zero (what they ranked by)
        state = {"proto": torch.zeros(()), **state}
        return super().load_state_dict(state, strict, assign)


@dataclass
class FeedbackTensors:
    """Feedback padded to one candidate count: ``q [n, d]``, ``c [n, m, d]``, ``gains [n, m]``, ``valid [n, m]``,
    ``groups [n]``, ``p [n, m, d]`` (the candidates' class prototypes; zero where the feedback has none)."""

    q: torch.Tensor
    c: torch.Tensor
    gains: torch.Tensor
    valid: torch.Tensor
    groups: np.ndarray
    p: torch.Tensor

    @classmethod
    def build(cls, feedback: Sequence, encoder: TextEncoder) -> FeedbackTensors:
        usable = [f for f in feedback if len(f.candidates) >= 2]
        m = max((len(f.candidates) for f in usable), default=2)
        n, d = len(usable), encoder.dim
        c = torch.zeros(n, m, d)
        p = torch.zeros(n, m, d)
        gains = torch.full((n, m), float("-inf"))
        valid = torch.zeros(n, m, dtype=torch.bool)
        for i, f in enumerate(usable):
            c[i, : len(f.candidates)] = encoder.encode(list(f.candidates)).float()
            gains[i, : len(f.candidates)] = torch.as_tensor(np.asarray(f.gains, dtype=np.float32))
            valid[i, : len(f.candidates)] = True
            if f.prototypes is not None:
                p[i, : len(f.candidates)] = torch.as_tensor(np.asarray(f.prototypes, dtype=np.float32))
        q = encoder.encode([f.query for f in usable]).float() if usable else torch.zeros(0, d)
        return cls(q, c, gains, valid, np.array([f.group for f in usable], dtype=np.int64), p)

    def subset(self, rows: np.ndarray) -> FeedbackTensors:
        idx = torch.as_tensor(rows, dtype=torch.long)
        return FeedbackTensors(self.q[idx], self.c[idx], self.gains[idx], self.valid[idx], self.groups[rows],
                               self.p[idx])


@dataclass(frozen=True)
class GuardReport:
    """What the guard chose: ``steps == 0`` means the kNN start was kept. ``gain`` is the chosen point's mean
    held-out ranking value over the start's (in the LM's log-prob units); ``table`` maps (temperature, steps)
    to that value for every point tried."""

    steps: int
    temperature: float
    gain: float
    folds: int
    table: dict[tuple[float, int], float]


def _scores(scorer: ResidualScorer, data: FeedbackTensors) -> torch.Tensor:
    s = scorer.score(scorer.transform_queries(data.q), data.c, data.p)
    return s.masked_fill(~data.valid, float("-inf"))


@torch.no_grad()
def ranking_value(scorer: ResidualScorer, data: FeedbackTensors, top: int) -> float:
    """Mean LM gain of the ``top`` candidates the scorer ranks first, averaged over queries (higher is better)."""
    s = _scores(scorer, data)
    picks = s.argsort(dim=1, descending=True, stable=True)[:, :top]
    g = data.gains.gather(1, picks)
    ok = data.valid.gather(1, picks)
    return float((torch.where(ok, g, torch.zeros_like(g)).sum(1) / ok.sum(1).clamp_min(1)).mean())


def _train_many(data: FeedbackTensors, rows: torch.Tensor, taus: torch.Tensor, *, dim: int, lr: float,
                decay: float, rank: int, num_negatives: int, checkpoints: Sequence[int], seed: int,
                batch_size: int = 32, on_checkpoint: Callable[[int, list[ResidualScorer]], None] | None = None,
                ) -> list[ResidualScorer]:
    """Train ``P = len(taus)`` independent scorers at once, scorer ``p`` on the rows where ``rows[p]`` is True
    with temperature ``taus[p]`` (the folds and temperatures of the guard, batched: Adam is elementwise, so
    summing their losses trains each exactly as alone). Loss: InfoNCE per query, its best candidate against
    its ``num_negatives`` worst (all others if fewer), plus ``decay`` times the residual's squared norm."""
    n_models = len(taus)
    start = ResidualScorer(dim, rank, seed)
    diag = start.diag.detach().repeat(n_models, 1).requires_grad_()
    u = start.u.detach().repeat(n_models, 1, 1).requires_grad_()
    v = start.v.detach().repeat(n_models, 1, 1).requires_grad_()
    proto = start.proto.detach().repeat(n_models).requires_grad_()

    def snapshot() -> list[ResidualScorer]:
        out = []
        for p in range(n_models):
            sc = ResidualScorer(dim, rank)
            with torch.no_grad():
                sc.diag.copy_(diag[p])
                sc.u.copy_(u[p])
                sc.v.copy_(v[p])
                sc.proto.copy_(proto[p])
            out.append(sc.eval())
        return out

    if on_checkpoint is not None and 0 in checkpoints:
        on_checkpoint(0, snapshot())
    last = max(checkpoints)
    if last == 0 or len(data.q) == 0:
        return snapshot()
    best = data.gains.argmax(1)
    worst_first = data.gains.masked_fill(~data.valid, float("inf")).argsort(dim=1, stable=True)
    keep = torch.zeros_like(data.valid)
    keep.scatter_(1, worst_first[:, :num_negatives], True)
    keep &= data.valid
    keep[torch.arange(len(best)), best] = True
    b = int(min(batch_size, rows.sum(1).min()))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([diag, u, v, proto], lr=lr)
    weights = rows.float()
    for step in range(1, last + 1):
        idx = torch.multinomial(weights, b, replacement=False, generator=gen)  # [P, b] rows of each model
        q = data.q[idx]
        qt = q + q * diag[:, None, :] + torch.einsum("pbr,pdr->pbd", torch.einsum("pbd,pdr->pbr", q, u), v)
        cand = data.c[idx] + proto[:, None, None, None] * data.p[idx]
        s = torch.einsum("pbd,pbmd->pbm", qt, cand) / taus[:, None, None]
        logits = s.masked_fill(~keep[idx], float("-inf"))
        ce = nn.functional.cross_entropy(logits.flatten(0, 1), best[idx].flatten(), reduction="none")
        low_rank = (torch.einsum("pdr,pds->prs", u, u) * torch.einsum("pdr,pds->prs", v, v)).sum()
        residual = (diag**2).sum() + (proto**2).sum() + low_rank
        loss = ce.view(n_models, b).mean(1).sum() + decay * residual
        opt.zero_grad()
        loss.backward()
        opt.step()
        if on_checkpoint is not None and step in checkpoints:
            on_checkpoint(step, snapshot())
    return snapshot()


def guarded_scorer(feedback: Sequence, encoder: TextEncoder, *, temperature: float = 0.1, lr: float = 1e-2,
                   steps: int = 100, decay: float = 1e-2, rank: int = 4, num_negatives: int = 7, folds: int = 4,
                   min_gain: float = 0.0, seed: int = 0) -> tuple[ResidualScorer, GuardReport]:
    """Train a :class:`ResidualScorer` on ``feedback`` with steps and temperature chosen on held-out folds.

    Temperatures tried: ``temperature / 3, temperature, 3 * temperature``; steps: 0, steps/4, steps/2, steps.
    """
    data = FeedbackTensors.build(feedback, encoder)
    groups = np.unique(data.groups)
    start = ResidualScorer(encoder.dim, rank, seed)
    n_folds = min(folds, len(groups))
    if steps == 0 or n_folds < 2:
        return start.eval(), GuardReport(0, temperature, 0.0, n_folds, {})
    top = max(1, data.c.shape[1] // 4)
    perm = np.random.default_rng([seed, 53]).permutation(groups)
    fold_of = {int(g): i % n_folds for i, g in enumerate(perm)}
    row_fold = np.array([fold_of[int(g)] for g in data.groups])
    checkpoints = sorted({0, max(1, steps // 4), max(1, steps // 2), steps})
    temps = [temperature / 3, temperature, temperature * 3]
    pairs = [(t, k) for t in temps for k in range(n_folds)]  # one scorer per temperature and held-out fold
    rows = torch.stack([torch.as_tensor(row_fold != k) for _, k in pairs])
    vals = [data.subset(np.flatnonzero(row_fold == k)) for _, k in pairs]
    sums: dict[tuple[float, int], float] = {}

    def record(step: int, scorers: list[ResidualScorer]) -> None:
        for (tau, _), sc, val in zip(pairs, scorers, vals):
            sums[(tau, step)] = sums.get((tau, step), 0.0) + ranking_value(sc, val, top) / n_folds

    _train_many(data, rows, torch.tensor([t for t, _ in pairs]), dim=encoder.dim, lr=lr, decay=decay, rank=rank,
                num_negatives=num_negatives, checkpoints=checkpoints, seed=seed, on_checkpoint=record)
    table = sums
    base = table[(temperature, 0)]  # the start is the same scorer whatever the temperature
    (tau, chosen), value = max(table.items(), key=lambda kv: (kv[1], -kv[0][1]))
    if chosen == 0 or value - base <= min_gain:
        return start.eval(), GuardReport(0, temperature, 0.0, n_folds, table)
    (scorer,) = _train_many(data, torch.ones(1, len(data.q), dtype=torch.bool), torch.tensor([tau]),
                            dim=encoder.dim, lr=lr, decay=decay, rank=rank, num_negatives=num_negatives,
                            checkpoints=[chosen], seed=seed)
    return scorer, GuardReport(chosen, tau, value - base, n_folds, table)
