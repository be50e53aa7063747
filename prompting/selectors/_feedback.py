"""The frozen LM's own feedback on candidate demonstrations, and the selector that ranks by a trained scorer.

EPR-style (Rubin et al., 2022), in context: for a training query drawn from the pool, each candidate is
scored by how much it raises the LM's probability of the query's gold label (normalised over the task's
labels) when it is added as the last demonstration after the query's ``context`` nearest other pool examples
(in kNN's order), over the prompt with the context alone. EPR scores each candidate as the *only*
demonstration; on SmolLM2-135M that signal points the wrong way for k-shot prompts: after a single
demonstration the model avoids repeating its label, so the most useful one-shot candidate had the query's
label for only 12-38% of queries on WordNet validation tasks, against 75-100% with a 3-example context (where
the k-shot prompts the selector builds copy labels, as kNN's success shows). ``context=0`` is EPR's one-shot
feedback. All of a pool's candidate prompts go to the LM in one call (they share each query's context as a
prompt prefix, and the memo means a prompt seen before costs nothing); the scorer trained from them
(``_scorer.guarded_scorer``) serves every k.

Each candidate also carries its class prototype (the mean embedding of the pool examples of its label, the
query left out, as it is absent from the pool at test time): the scorer may learn to weigh it (see
``ResidualScorer``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike, build_prompt, continuations
from prompting.selectors._scorer import GuardReport, ResidualScorer
from prompting.selectors.base import FittedSelector, top_k_ascending
from prompting.tasks.base import Example

__all__ = ["Feedback", "lm_feedback", "ScoredSelector"]


@dataclass(frozen=True)
class Feedback:
    """LM-scored candidates for one training query: ``gains[i]`` is the gold log-prob gain of ``candidates[i]``.
    ``group`` says which queries are validated together (one pool query, or one task of the meta selector).
    ``prototypes`` (``[len(candidates), dim]`` or None): each candidate's class prototype, the query left out."""

    query: str
    candidates: tuple[str, ...]
    gains: np.ndarray
    group: int = 0
    prototypes: np.ndarray | None = None


def class_prototypes(keys: np.ndarray, labels: Sequence[str], leave_out: int | None = None) -> np.ndarray:
    """``[len(keys), dim]``: for each example, the unit-length mean embedding of the examples of its label
    (``leave_out`` excluded); zero where no other example has that label."""
    out = np.zeros_like(keys)
    for label in dict.fromkeys(labels):
        members = [i for i, lab in enumerate(labels) if lab == label]
        rest = [i for i in members if i != leave_out]
        if not rest:
            continue
        mean = keys[rest].mean(0)
        out[members] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out


def lm_feedback(pool: Sequence[Example], labels: Mapping[str, str], *, lm: LabelScorer, encoder: TextEncoder,
                num_queries: int, num_candidates: int, rng: np.random.Generator, context: int = 3,
                group: int | None = None, prompt_format: PromptFormatLike = None) -> list[Feedback]:
    """Leave-one-out: each of ``num_queries`` pool examples is a query. Its ``context`` nearest others (by
    embedding; fewer where the pool is small) precede every candidate, nearest last, as kNN would order them;
    its candidates are half the next nearest (where the useful ones usually are) and half random others (so
    the scorer also sees what the embedding alone would miss). Each query is its own ``group`` unless
    ``group`` is given."""
    pool = list(pool)
    keys = encoder.encode([e.text for e in pool]).numpy()
    names = list(labels)
    pool_labels = [e.label for e in pool]
    plan = []
    for qi in rng.choice(len(pool), size=min(num_queries, len(pool)), replace=False):
        qi = int(qi)
        others = np.array([j for j in range(len(pool)) if j != qi])
        ranked = others[np.argsort(-(keys[others] @ keys[qi]), kind="stable")]
        shown = ranked[: min(context, max(0, len(ranked) - 2))]  # at least two candidates stay
        ranked = ranked[len(shown):]
        near = ranked[: max(1, num_candidates // 2)]
        rest = np.setdiff1d(ranked, near)
        extra = rng.choice(rest, size=min(len(rest), num_candidates - len(near)), replace=False)
        plan.append((qi, [pool[int(j)] for j in shown[::-1]], [int(j) for j in np.concatenate([near, extra])]))
    prompts = []
    for qi, shown, cands in plan:
        q, fmt = pool[qi], prompt_format
        prompts += [build_prompt(labels, [*shown, pool[j]], q, fmt) for j in cands]
        prompts.append(build_prompt(labels, shown, q, fmt))
    logp = torch.log_softmax(lm.label_logprobs(prompts, continuations(labels, prompt_format)).float(), dim=-1)
    out, row = [], 0
    for qi, _, cands in plan:
        gold = names.index(pool[qi].label)
        block = logp[row : row + len(cands) + 1, gold].numpy()
        row += len(cands) + 1
        protos = class_prototypes(keys, pool_labels, leave_out=qi)[cands]
        out.append(Feedback(pool[qi].text, tuple(pool[j].text for j in cands), block[:-1] - block[-1],
                            qi if group is None else group, protos))
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
        self.prototypes = torch.from_numpy(class_prototypes(self.keys.numpy(), [e.label for e in self.pool]))

    def select(self, query: str, k: int) -> list[Example]:
        with torch.no_grad():
            q = self.scorer.transform_queries(self.encoder.encode([query]).float())
            sims = self.scorer.score(q, self.keys[None], self.prototypes[None])[0].tolist()
        return [self.pool[i] for i in top_k_ascending(sims, k)]
