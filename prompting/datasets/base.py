"""A labelled dataset with a fixed label set: a train split to draw demonstrations from, a test split to label.

This is the other ground of prompt-example selection beside the task families: every prompt carries every
label, the pool comes from the train split and the queries from the test split (Zhao et al. 2021, KATE, EPR).
A seed draws one :class:`~prompting.tasks.base.TextTask` of it: ``pool`` train examples and ``queries`` test
examples, so the whole selector harness (``prompting.comparison.score_task``) runs on it unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metaopt.errors import ConfigError
from prompting.prompt import PromptFormat, PromptFormatLike
from prompting.tasks.base import Example, TextTask

__all__ = ["LabelledDataset", "MIN_EXAMPLES"]

MIN_EXAMPLES = 2  # a pool needs two examples for any selector to choose


@dataclass(frozen=True)
class LabelledDataset:
    """``classes`` are the label names as the data has them, ``verbalisers`` the words the LM reads for them
    (in the same order), ``prompt_format`` the template every prompt of this dataset is built in."""

    name: str
    classes: tuple[str, ...]
    verbalisers: tuple[str, ...]
    train: tuple[Example, ...]
    test: tuple[Example, ...]
    prompt_format: PromptFormat

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise ConfigError(f"{self.name}: need at least 2 labels, got {len(self.classes)}"
                              + (f" ({self.classes[0]!r})" if self.classes else ""))
        if len(self.verbalisers) != len(self.classes):
            raise ConfigError(f"{self.name}: {len(self.classes)} labels but {len(self.verbalisers)} label words")
        dupes = [v for v, n in Counter(self.verbalisers).items() if n > 1]
        if dupes:
            raise ConfigError(f"{self.name}: two labels share the label word {dupes[0]!r}; give --verbalizer")
        if len(self.train) < MIN_EXAMPLES:
            raise ConfigError(f"{self.name}: the train split has {len(self.train)} examples; need {MIN_EXAMPLES}")
        if not self.test:
            raise ConfigError(f"{self.name}: the test split is empty")
        known = set(self.classes)
        for split, examples in (("train", self.train), ("test", self.test)):
            unknown = sorted({e.label for e in examples} - known)
            if unknown:
                raise ConfigError(f"{self.name}: label {unknown[0]!r} of the {split} split is not among the "
                                  f"train split's labels ({', '.join(self.classes)})")
        fields = self.prompt_format.fields
        for e in (*self.train[:1], *self.test[:1]):
            if e.parts and len(e.parts) != len(fields):
                raise ConfigError(f"{self.name}: examples have {len(e.parts)} text fields, the template names "
                                  f"{len(fields)} ({', '.join(fields)})")

    @property
    def labels(self) -> dict[str, str]:
        return dict(zip(self.classes, self.verbalisers))

    def draw(self, seed: int, *, pool: int | None = None, queries: int = 300) -> tuple[list[int], list[int]]:
        """Seed ``seed``'s indices into ``train`` (``pool`` of them, all for None) and into ``test`` (``queries``,
        all where the split is smaller), without replacement: a pure function of the seed and sizes."""
        rng = np.random.default_rng([seed, 7919])
        picks = (range(len(self.train)) if pool is None or pool >= len(self.train) else
                 np.sort(rng.choice(len(self.train), size=pool, replace=False)))
        asked = rng.choice(len(self.test), size=min(queries, len(self.test)), replace=False)
        return [int(i) for i in picks], [int(i) for i in asked]

    def task(self, seed: int, *, pool: int | None = None, queries: int = 300,
             prompt_format: PromptFormatLike = None) -> TextTask:
        """Seed ``seed``'s task (see :meth:`draw`); ``prompt_format`` overrides the dataset's (the chat wrapper)."""
        picks, asked = self.draw(seed, pool=pool, queries=queries)
        return TextTask(self.classes, self.verbalisers, tuple(self.train[i] for i in picks),
                        tuple(self.test[i] for i in asked), prompt_format or self.prompt_format)


def label_counts(examples: Sequence[Example]) -> dict[str, int]:
    return dict(Counter(e.label for e in examples))
