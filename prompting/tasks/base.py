"""Text tasks and task families: a few classes with verbalisers, a candidate pool and held-out queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from metaopt.errors import ConfigError
from metaopt.tasks.base import ClassSplits, task_rng
from metaopt.typing import Split

__all__ = ["Example", "TextTask", "TaskFamily", "split_classes"]

_SPLIT_ID = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class Example:
    """One labelled text; ``label`` is the class name (e.g. ``noun.animal``). A text pair or any multi-field
    input keeps its fields in ``parts`` (in the prompt template's field order); ``text`` is then the fields
    joined, which is what encoders and BM25 read."""

    text: str
    label: str
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextTask:
    """A few-way classification task: pick demonstrations from ``pool``, score on ``queries``."""

    classes: tuple[str, ...]
    verbalisers: tuple[str, ...]
    pool: tuple[Example, ...]
    queries: tuple[Example, ...]
    # a prompting.prompt.PromptFormat or ChatFormat; None is the families' default format
    prompt_format: Any = None

    def __post_init__(self) -> None:
        if len(set(self.verbalisers)) != len(self.verbalisers):
            raise ConfigError(f"verbalisers of a task must differ, got {self.verbalisers}")

    def verbalise(self, label: str) -> str:
        return self.verbalisers[self.classes.index(label)]

    def label_index(self, example: Example) -> int:
        return self.classes.index(example.label)


class TaskFamily:
    """Texts grouped by class, with one verbaliser per class and disjoint class splits.

    ``sample`` draws ``ways`` classes of one split (with distinct verbalisers), ``pool_per_class``
    candidates and ``queries_per_class`` held-out queries of each; it is a pure function of the generator.
    """

    def __init__(self, name: str, texts: Mapping[str, Sequence[str]], verbalisers: Mapping[str, str],
                 splits: ClassSplits, *, max_chars: int = 240) -> None:
        self.name = name
        self.class_names = sorted(texts)
        missing = [c for c in self.class_names if c not in verbalisers]
        if missing:
            raise ConfigError(f"{name}: classes without a verbaliser: {', '.join(missing[:5])}")
        # Long texts are cut so a k = 8 prompt stays within a small model's comfortable length.
        self.texts = {c: [_clip(t, max_chars) for t in texts[c]] for c in self.class_names}
        self.verbalisers = dict(verbalisers)
        self.splits = splits

    def classes(self, split: Split) -> list[str]:
        return [self.class_names[i] for i in self.splits.classes(split)]

    def sample(self, split: Split, rng: np.random.Generator, *, ways: int = 4, pool_per_class: int = 8,
               queries_per_class: int = 4) -> TextTask:
        need = pool_per_class + queries_per_class
        eligible = [c for c in self.classes(split) if len(self.texts[c]) >= need]
        verbs = {self.verbalisers[c] for c in eligible}
        if len(verbs) < ways:
            raise ConfigError(f"{self.name}: only {len(verbs)} {split} classes have {need} texts and distinct "
                              f"verbalisers; lower --ways (got {ways}) or the pool/query sizes")
        chosen: list[str] = []
        for i in rng.permutation(len(eligible)):
            c = eligible[int(i)]
            if self.verbalisers[c] not in {self.verbalisers[x] for x in chosen}:
                chosen.append(c)
            if len(chosen) == ways:
                break
        pool, queries = [], []
        for c in chosen:
            picks = rng.choice(len(self.texts[c]), size=need, replace=False)
            examples = [Example(self.texts[c][int(j)], c) for j in picks]
            pool += examples[:pool_per_class]
            queries += examples[pool_per_class:]
        order = rng.permutation(len(pool))  # the pool is not grouped by class
        return TextTask(tuple(chosen), tuple(self.verbalisers[c] for c in chosen),
                        tuple(pool[int(i)] for i in order), tuple(queries))

    def tasks(self, split: Split, n: int, seed: int, **sizes: int) -> list[TextTask]:
        """The same ``n`` tasks for a given seed and split."""
        return [self.sample(split, task_rng(seed, 104729, _SPLIT_ID[split], i), **sizes) for i in range(n)]


def split_classes(n: int, fractions: tuple[float, float] = (0.55, 0.1), seed: int = 0) -> ClassSplits:
    """Disjoint train/val/test class indices from a seeded permutation (the rest goes to test)."""
    order = [int(i) for i in np.random.default_rng(seed).permutation(n)]
    n_train, n_val = int(round(n * fractions[0])), int(round(n * fractions[1]))
    return ClassSplits(tuple(order[:n_train]), tuple(order[n_train : n_train + n_val]),
                       tuple(order[n_train + n_val :]))


def _clip(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 3].rsplit(" ", 1)[0] + "..."
