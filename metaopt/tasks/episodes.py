"""N-way K-shot episodes over a labelled class dataset with disjoint class splits."""

from __future__ import annotations

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.base import ClassDataset, ClassSplits, Task, TaskSource

__all__ = ["EpisodeSampler", "split_classes", "split_by_group"]


class EpisodeSampler(TaskSource):
    """Samples ``ways`` classes of one split, then ``shots + queries`` distinct examples of each.

    Labels are remapped per episode to ``0..ways-1`` in the random order the classes were drawn,
    so a learner cannot memorise a class-to-label mapping across episodes.
    """

    kind = "classification"

    def __init__(
        self, dataset: ClassDataset, classes: tuple[int, ...], *, ways: int, shots: int, queries: int
    ) -> None:
        for name, value in (("ways", ways), ("shots", shots), ("queries", queries)):
            if value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
        if ways > len(classes):
            raise ConfigError(
                f"ways={ways} is larger than the {len(classes)} classes available in this split of {dataset.name}"
            )
        by_class = dataset.indices_by_class()
        smallest = min(len(by_class[c]) for c in classes)
        if shots + queries > smallest:
            raise ConfigError(
                f"shots+queries={shots + queries} is larger than the {smallest} examples the smallest class "
                f"of {dataset.name} holds"
            )
        self.dataset = dataset
        self.classes = np.asarray(classes)
        self.ways, self.shots, self.queries = ways, shots, queries
        self.n_way = ways
        self._by_class = by_class

    def sample(self, rng: np.random.Generator) -> Task:
        chosen = rng.choice(self.classes, size=self.ways, replace=False)
        per = self.shots + self.queries
        picks = np.stack([rng.choice(self._by_class[c], size=per, replace=False) for c in chosen])
        support_idx = picks[:, : self.shots].reshape(-1)
        query_idx = picks[:, self.shots :].reshape(-1)
        labels = np.arange(self.ways)
        images = self.dataset.images
        return Task(
            _to_float(images[support_idx]),
            torch.as_tensor(np.repeat(labels, self.shots)),
            _to_float(images[query_idx]),
            torch.as_tensor(np.repeat(labels, self.queries)),
            kind="classification",
            n_way=self.ways,
            shots=self.shots,
        )


def _to_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().div_(255.0)


def split_classes(num_classes: int, fractions: tuple[float, float, float], seed: int = 0) -> ClassSplits:
    """Seeded random disjoint split of class indices by fractions (train, val, test)."""
    order = np.random.default_rng(seed).permutation(num_classes)
    n_train = int(round(fractions[0] * num_classes))
    n_val = int(round(fractions[1] * num_classes))
    return ClassSplits(
        tuple(sorted(order[:n_train].tolist())),
        tuple(sorted(order[n_train : n_train + n_val].tolist())),
        tuple(sorted(order[n_train + n_val :].tolist())),
    )


def split_by_group(
    dataset: ClassDataset,
    background: list[str],
    evaluation: list[str],
    val_groups: list[str],
) -> ClassSplits:
    """Omniglot-style split: test classes come from the evaluation groups (alphabets), validation
    classes from ``val_groups`` held out of the background, training classes from the rest."""
    if dataset.class_groups is None:
        raise ConfigError(f"{dataset.name} has no class groups to split by")
    bg, ev, va = set(background) - set(val_groups), set(evaluation), set(val_groups)
    groups = dataset.class_groups
    pick = lambda names: tuple(i for i, g in enumerate(groups) if g in names)  # noqa: E731
    return ClassSplits(pick(bg), pick(va), pick(ev))

