"""Fashion-MNIST (Xiao et al. 2017) from Debian's dataset-fashion-mnist package, read offline.

Train and test images are combined: 10 classes x 7,000 images, 28x28, garments bright on black.
With only 10 classes this is a sanity set for the episode pipeline, not a few-shot benchmark.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from metaopt.errors import ConfigError, MissingDependencyError
from metaopt.tasks.base import ClassDataset, ClassSplits

__all__ = ["load_fashion_mnist", "fashion_mnist_splits", "FASHION_MNIST_DIR", "CLASS_NAMES"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
INSTALL_HINT = "apt-get install dataset-fashion-mnist"
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
# Fixed 4/3/3 class split; each part mixes tops with footwear or accessories, and val/test hold
# exactly 3 classes so the default 3-way episodes use all of them.
SPLIT = {
    "train": (0, 1, 5, 8),  # T-shirt/top, Trouser, Sandal, Bag
    "val": (2, 3, 7),  # Pullover, Dress, Sneaker
    "test": (4, 6, 9),  # Coat, Shirt, Ankle boot
}
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(folder: str, stem: str) -> str | None:
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _read_idx(path: str, magic: int, dims: int) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    header = np.frombuffer(data, dtype=">u4", count=1 + dims)
    if int(header[0]) != magic:
        raise ConfigError(f"{path} is not an idx file of the expected kind (magic {int(header[0]):#x})")
    shape = tuple(int(n) for n in header[1:])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + dims))
    if body.size != int(np.prod(shape)):
        raise ConfigError(f"{path} is truncated: expected {int(np.prod(shape))} bytes, found {body.size}")
    return body.reshape(shape)


def _locate(folder: str) -> dict[str, tuple[str, str]] | None:
    found = {}
    for part, (image_stem, label_stem) in _FILES.items():
        image_path, label_path = _find(folder, image_stem), _find(folder, label_stem)
        if image_path is None or label_path is None:
            return None
        found[part] = (image_path, label_path)
    return found


def load_fashion_mnist(root: str | None = None) -> ClassDataset:
    """Read the four idx files (.gz or plain) from ``root``, ``root/fashion-mnist`` or the Debian
    folder, in that order; the Debian folder is always tried, so a --data-root meant for caches works."""
    candidates = [root, os.path.join(root, "fashion-mnist")] if root else []
    candidates.append(FASHION_MNIST_DIR)
    located = next((found for found in map(_locate, candidates) if found is not None), None)
    if located is None:
        raise MissingDependencyError(f"Fashion-MNIST idx files not found in {' or '.join(candidates)}: {INSTALL_HINT}")
    images, labels = [], []
    for image_path, label_path in located.values():
        part_images = _read_idx(image_path, 0x803, 3)
        part_labels = _read_idx(label_path, 0x801, 1)
        if len(part_images) != len(part_labels):
            raise ConfigError(f"{image_path} has {len(part_images)} images but {label_path} {len(part_labels)} labels")
        images.append(part_images)
        labels.append(part_labels)
    all_labels = np.concatenate(labels).astype(np.int64)
    if all_labels.max() >= len(CLASS_NAMES):
        raise ConfigError(f"Fashion-MNIST labels in {label_path} go up to {all_labels.max()}, expected 0-9")
    return ClassDataset("fashion-mnist", np.concatenate(images)[:, None], all_labels, list(CLASS_NAMES))


def fashion_mnist_splits(ds: ClassDataset) -> ClassSplits:
    """The fixed disjoint 4/3/3 class split in SPLIT."""
    if ds.num_classes != len(CLASS_NAMES):
        raise ConfigError(f"{ds.name} has {ds.num_classes} classes; the Fashion-MNIST split expects 10")
    return ClassSplits(SPLIT["train"], SPLIT["val"], SPLIT["test"])
