"""DSPy-style bootstrap few-shot with random search (``BootstrapFewShotWithRandomSearch``), for classification.

DSPy's optimiser compiles one fixed set of demonstrations for a program: it draws candidate demo sets, scores
each with the LM on a validation set and keeps the best. Here the validation examples are taken from the
task's own pool (they are labelled), the candidate sets are random k-subsets of the rest of the pool, and the
score is the LM's accuracy on the validation examples with that set as the prompt's demonstrations. With gold
labels there is nothing to bootstrap (DSPy bootstraps demos by running the program to get labels), so what
remains is the random search, which is the part that beats plain random demos in DSPy's reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from metaopt.errors import ConfigError
from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike, build_prompt, continuations
from prompting.selectors.base import FittedSelector, Selector, check_k
from prompting.tasks.base import Example

__all__ = ["BootstrapRandomSearch"]


class _Fitted(FittedSelector):
    def __init__(self, pool: Sequence[Example], lm: LabelScorer, labels: Mapping[str, str], num_sets: int,
                 val_size: int, seed: int, prompt_format: PromptFormatLike) -> None:
        super().__init__(pool)
        self.lm, self.labels, self.num_sets, self.seed = lm, dict(labels), num_sets, seed
        self.prompt_format = prompt_format
        rng = np.random.default_rng([seed, 41])
        n_val = min(val_size, max(1, len(self.pool) // 2))
        order = rng.permutation(len(self.pool))
        self.val = [self.pool[int(i)] for i in order[:n_val]]
        self.demos = [int(i) for i in order[n_val:]]
        self.chosen: dict[int, list[Example]] = {}  # one set per k, searched on first use
        self.val_accuracy: dict[int, float] = {}

    def _search(self, k: int) -> list[Example]:
        # Sets come from the demo share; a k larger than it draws from the whole pool (validation included).
        source = self.demos if k <= len(self.demos) else list(range(len(self.pool)))
        k = min(k, len(source))
        rng = np.random.default_rng([self.seed, 43, k])
        sets = [[source[int(i)] for i in rng.permutation(len(source))[:k]] for _ in range(self.num_sets)]
        names = list(self.labels)
        gold = np.array([names.index(v.label) for v in self.val])
        fmt = self.prompt_format
        prompts = [build_prompt(self.labels, [self.pool[i] for i in s], v, fmt) for s in sets for v in self.val]
        pred = self.lm.label_logprobs(prompts, continuations(self.labels, fmt)).argmax(-1).numpy()
        acc = (pred.reshape(len(sets), len(self.val)) == gold).mean(1)
        best = int(np.argmax(acc))  # ties: the first set drawn
        self.val_accuracy[k] = float(acc[best])
        return [self.pool[i] for i in sets[best]]

    def select(self, query: str, k: int) -> list[Example]:
        check_k(k)
        if k == 0:
            return []
        if k not in self.chosen:
            self.chosen[k] = self._search(k)
        return list(self.chosen[k])


class BootstrapRandomSearch(Selector):
    """One fixed demonstration set per task and k (the same for every query): the best of ``num_sets``
    random k-subsets of the pool by LM accuracy on ``val_size`` validation examples held out of the pool
    (``num_sets * val_size`` LM prompts per k, spent on the first ``select`` at that k). Order: as drawn.

    Defaults: 18 x 8 = 144 prompts per k, the LM budget of the ``learned`` selector's defaults (16 queries x
    (8 candidates + 1)), so the two compare at equal LM calls at any one k."""

    name = "bootstrap"

    def __init__(self, *, num_sets: int = 18, val_size: int = 8) -> None:
        if num_sets < 1 or val_size < 1:
            raise ConfigError(f"bootstrap selector: num_sets and val_size must be positive, got {num_sets}, "
                              f"{val_size}")
        self.num_sets, self.val_size = num_sets, val_size

    def fit(self, pool: Sequence[Example], *, lm: LabelScorer, labels: Mapping[str, str],
            encoder: TextEncoder | None = None, seed: int = 0,
            prompt_format: PromptFormatLike = None) -> FittedSelector:
        return _Fitted(pool, lm, labels, self.num_sets, self.val_size, seed, prompt_format)
