"""EpisodeSampler and class splits on a small synthetic ClassDataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.base import ClassDataset, ClassSplits, task_rng
from metaopt.tasks.episodes import EpisodeSampler, split_by_group, split_classes

N_CLASSES, PER_CLASS = 12, 8


@pytest.fixture()
def dataset() -> ClassDataset:
    """Every image is filled with a unique id (class * PER_CLASS + example) so tests can read
    back exactly which examples an episode used."""
    ids = np.arange(N_CLASSES * PER_CLASS)
    images = np.broadcast_to(ids[:, None, None, None], (len(ids), 1, 4, 4)).astype(np.uint8)
    labels = np.repeat(np.arange(N_CLASSES), PER_CLASS).astype(np.int64)
    groups = [f"g{c // 3}" for c in range(N_CLASSES)]
    return ClassDataset("synthetic", images, labels, [f"c{c}" for c in range(N_CLASSES)], groups)


def _ids(x: torch.Tensor) -> np.ndarray:
    return np.rint(x[:, 0, 0, 0].numpy() * 255).astype(int)


def test_shapes_and_dtypes(dataset: ClassDataset) -> None:
    task = EpisodeSampler(dataset, tuple(range(6)), ways=3, shots=2, queries=4).sample(task_rng(0))
    assert task.support_x.shape == (6, 1, 4, 4) and task.query_x.shape == (12, 1, 4, 4)
    assert task.support_x.dtype == torch.float32 and 0.0 <= task.support_x.min() <= task.support_x.max() <= 1.0
    assert task.support_y.dtype == torch.int64 and task.kind == "classification" and task.n_way == 3


def test_support_is_in_label_blocks_as_task_shots_promises(dataset: ClassDataset) -> None:
    task = EpisodeSampler(dataset, tuple(range(N_CLASSES)), ways=4, shots=3, queries=2).sample(task_rng(2))
    assert task.shots == 3
    assert torch.equal(task.support_y, torch.arange(4).repeat_interleave(3))
    assert task.to("cpu").shots == 3


def test_labels_remapped_and_consistent(dataset: ClassDataset) -> None:
    task = EpisodeSampler(dataset, tuple(range(N_CLASSES)), ways=4, shots=2, queries=3).sample(task_rng(1))
    assert sorted(set(task.support_y.tolist())) == [0, 1, 2, 3]
    assert sorted(set(task.query_y.tolist())) == [0, 1, 2, 3]
    # one episode label always means one original class, in support and query alike
    mapping: dict[int, int] = {}
    for x, y in ((task.support_x, task.support_y), (task.query_x, task.query_y)):
        for original, label in zip(_ids(x) // PER_CLASS, y.tolist(), strict=True):
            assert mapping.setdefault(label, original) == original


def test_support_and_query_disjoint(dataset: ClassDataset) -> None:
    sampler = EpisodeSampler(dataset, tuple(range(N_CLASSES)), ways=5, shots=3, queries=5)
    for i in range(20):
        task = sampler.sample(task_rng(2, i))
        support, query = _ids(task.support_x), _ids(task.query_x)
        assert not set(support) & set(query)
        assert len(set(support)) == len(support) and len(set(query)) == len(query)


def test_classes_only_from_the_split(dataset: ClassDataset) -> None:
    split = (1, 4, 7, 10)
    sampler = EpisodeSampler(dataset, split, ways=2, shots=1, queries=1)
    seen = set()
    for i in range(50):
        task = sampler.sample(task_rng(3, i))
        seen |= set(_ids(task.support_x) // PER_CLASS) | set(_ids(task.query_x) // PER_CLASS)
    assert seen == set(split)


def test_fixed_tasks_identical_for_a_seed(dataset: ClassDataset) -> None:
    sampler = EpisodeSampler(dataset, tuple(range(N_CLASSES)), ways=3, shots=1, queries=2)
    first, second = sampler.fixed_tasks(5, seed=11), sampler.fixed_tasks(5, seed=11)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a.support_x, b.support_x) and torch.equal(a.query_y, b.query_y)
    other = sampler.fixed_tasks(5, seed=12)
    assert any(not torch.equal(a.support_x, b.support_x) for a, b in zip(first, other, strict=True))


def test_too_many_ways(dataset: ClassDataset) -> None:
    with pytest.raises(ConfigError, match="ways=5"):
        EpisodeSampler(dataset, (0, 1, 2, 3), ways=5, shots=1, queries=1)


def test_too_many_examples_per_class(dataset: ClassDataset) -> None:
    with pytest.raises(ConfigError, match="shots\\+queries=9"):
        EpisodeSampler(dataset, tuple(range(N_CLASSES)), ways=2, shots=4, queries=5)


@pytest.mark.parametrize("field", ["ways", "shots", "queries"])
def test_non_positive_counts(dataset: ClassDataset, field: str) -> None:
    kwargs = {"ways": 2, "shots": 1, "queries": 1, field: 0}
    with pytest.raises(ConfigError, match=field):
        EpisodeSampler(dataset, tuple(range(N_CLASSES)), **kwargs)


def test_split_classes_disjoint_and_seeded() -> None:
    splits = split_classes(20, (0.6, 0.2, 0.2), seed=3)
    assert splits == split_classes(20, (0.6, 0.2, 0.2), seed=3)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (12, 4, 4)
    assert sorted(splits.train + splits.val + splits.test) == list(range(20))


def test_split_by_group(dataset: ClassDataset) -> None:
    splits = split_by_group(dataset, ["g0", "g1", "g2"], ["g3"], ["g2"])
    assert splits == ClassSplits((0, 1, 2, 3, 4, 5), (6, 7, 8), (9, 10, 11))


def test_overlapping_splits_rejected() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        ClassSplits((0, 1), (1, 2), (3,))
