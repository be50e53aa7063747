"""Fashion-MNIST from Debian's dataset-fashion-mnist package (skipped where it is not installed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from metaopt.errors import MissingDependencyError
from metaopt.tasks import fashion_mnist
from metaopt.tasks.fashion_mnist import FASHION_MNIST_DIR, fashion_mnist_splits, load_fashion_mnist

needs_data = pytest.mark.skipif(
    not os.path.isdir(FASHION_MNIST_DIR),
    reason=f"{FASHION_MNIST_DIR} absent (apt-get install dataset-fashion-mnist)",
)


@needs_data
def test_loads_train_and_test_combined() -> None:
    ds = load_fashion_mnist()
    assert ds.images.shape == (70_000, 1, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64
    assert np.bincount(ds.labels).tolist() == [7_000] * 10
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    # garments bright on a black background
    assert np.median(ds.images[:, 0, 0, 0]) == 0 and ds.images.max() == 255


@needs_data
def test_splits_disjoint_and_cover_all_classes() -> None:
    splits = fashion_mnist_splits(load_fashion_mnist())
    parts = [set(splits.train), set(splits.val), set(splits.test)]
    assert [len(p) for p in parts] == [4, 3, 3]
    assert set.union(*parts) == set(range(10))


@needs_data
def test_root_without_files_falls_back_to_debian_folder(tmp_path: Path) -> None:
    assert load_fashion_mnist(str(tmp_path)).num_classes == 10


def test_missing_data_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(MissingDependencyError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(str(tmp_path))
