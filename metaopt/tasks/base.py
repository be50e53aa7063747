"""Tasks, labelled class datasets and the task-source protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.typing import Split, TaskKind

__all__ = ["Task", "ClassDataset", "ClassSplits", "TaskSource", "task_rng", "to_device"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Task:
    """One episode: adapt on the support set, score on the query set.

    Classification labels are remapped to ``0..n_way-1`` per episode. ``shots``, when set, says the
    support set is ``n_way`` blocks of ``shots`` examples in label order (as ``EpisodeSampler`` draws
    it), so per-class statistics can be reshapes instead of scatters; None promises nothing.
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    kind: TaskKind
    n_way: int | None = None
    shots: int | None = None

    def to(self, device: torch.device | str) -> Task:
        return Task(
            self.support_x.to(device),
            self.support_y.to(device),
            self.query_x.to(device),
            self.query_y.to(device),
            self.kind,
            self.n_way,
            self.shots,
        )


def to_device(task: _T, device: torch.device | None) -> _T:
    """``task`` with its tensors on ``device``; with no device, or a task that is not a ``Task``
    episode (RL environments are simulated on the CPU), ``task`` as it is."""
    if device is None or not isinstance(task, Task):
        return task
    return task.to(device)  # type: ignore[return-value]


@dataclass
class ClassDataset:
    """A labelled image set grouped by class.

    ``images`` is uint8 ``[N, C, H, W]`` (ink/foreground bright); ``labels`` int64 ``[N]`` indexes
    ``class_names``. ``class_groups`` names the group of each class (the alphabet, for glyphs and
    Omniglot) so splits can be made by group; it may be None.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    class_groups: list[str] | None = None
    _by_class: list[np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ConfigError(f"{self.name}: images must be [N, C, H, W], got shape {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ConfigError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def indices_by_class(self) -> list[np.ndarray]:
        if self._by_class is None:
            order = np.argsort(self.labels, kind="stable")
            bounds = np.searchsorted(self.labels[order], np.arange(self.num_classes + 1))
            self._by_class = [order[bounds[c] : bounds[c + 1]] for c in range(self.num_classes)]
        return self._by_class


@dataclass(frozen=True)
class ClassSplits:
    """Disjoint class indices for meta-training, meta-validation and meta-testing."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]

    def __post_init__(self) -> None:
        a, b, c = set(self.train), set(self.val), set(self.test)
        if a & b or a & c or b & c:
            raise ConfigError("class splits overlap: meta-train, meta-validation and meta-test must be disjoint")

    def classes(self, split: Split) -> tuple[int, ...]:
        return {"train": self.train, "val": self.val, "test": self.test}[split]


def task_rng(*key: int) -> np.random.Generator:
    """A generator determined by integer keys (seed, split id, index): resumable without saved state."""
    return np.random.default_rng([int(k) for k in key])


class TaskSource(ABC):
    """Produces tasks of one benchmark split; ``sample(rng)`` is a pure function of the generator."""

    kind: TaskKind
    n_way: int | None

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Task: ...

    def fixed_tasks(self, n: int, seed: int) -> list[Task]:
        """The same ``n`` tasks for a given seed, so every algorithm is scored on identical tasks.
        ConfigError if ``n`` tasks like the first cannot fit in memory (they are all kept)."""
        if n < 1:
            return []
        first = self.sample(task_rng(seed, 7919, 0))
        if isinstance(first, Task):
            from metaopt.tasks._memory import check_episodes_fit

            tensors = (first.support_x, first.support_y, first.query_x, first.query_y)
            check_episodes_fit(n, sum(t.nelement() * t.element_size() for t in tensors), f"{n} tasks")
        return [first] + [self.sample(task_rng(seed, 7919, i)) for i in range(1, n)]
