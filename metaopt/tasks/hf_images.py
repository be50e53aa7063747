"""Any Hugging Face image-classification dataset as a ClassDataset (needs the 'hf' extra).

Columns are found from the features: the Image column holds the pictures and the ClassLabel
column the classes. Channels are kept (1 for greyscale sets, 3 for colour; a set that mixes both
becomes 3-channel) and images are resized to ``image_size`` squared. Natural images are not
inverted: "ink bright" only applies to drawn characters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from metaopt._imports import require
from metaopt.errors import ConfigError
from metaopt.tasks.base import ClassDataset

__all__ = ["load_hf_image_dataset"]

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
_IMAGE_NAMES = ("image", "img", "picture")
_LABEL_NAMES = ("label", "labels", "fine_label", "class", "target")


def load_hf_image_dataset(
    name: str,
    *,
    cache_dir: str | None = None,
    split: str = "train",
    image_size: int = 28,
    image_column: str | None = None,
    label_column: str | None = None,
) -> ClassDataset:
    """Download (or reuse the local cache of) ``name`` and convert ``split`` to a ClassDataset."""
    datasets = require("datasets", "'metaopt[hf]'")
    if image_size < 1:
        raise ConfigError(f"image_size must be a positive integer, got {image_size}")
    try:
        hf = datasets.load_dataset(name, split=split, cache_dir=cache_dir)
    except Exception as exc:  # offline, unknown name, gated, bad split: all mean "cannot use it"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"could not load Hugging Face dataset {name!r} split {split!r}: {reason}") from exc
    return _to_class_dataset(
        hf, name=f"hf:{name}", image_size=image_size, image_column=image_column, label_column=label_column
    )


def _pick_column(
    features: dict[str, Any], wanted: str | None, kind: type, names: tuple[str, ...], what: str, name: str
) -> str:
    if wanted is not None:
        if wanted not in features:
            raise ConfigError(f"{name} has no column {wanted!r}; columns: {', '.join(features)}")
        return wanted
    typed = [k for k, f in features.items() if isinstance(f, kind)]
    if len(typed) == 1:
        return typed[0]
    if len(typed) > 1:
        if what == "label":
            # e.g. CIFAR-100 fine (100) vs coarse (20) labels: more classes make more tasks
            return max(typed, key=lambda k: (features[k].num_classes, k))
        raise ConfigError(f"{name} has several image columns ({', '.join(typed)}); pass image_column")
    for candidate in names:
        if candidate in features:
            return candidate
    raise ConfigError(f"{name}: cannot tell which column holds the {what}s; pass {what}_column")


def _to_array(image: Any, size: int) -> np.ndarray:
    """[C, size, size] uint8 with C = 1 for greyscale modes, 3 otherwise."""
    if not isinstance(image, Image.Image):
        image = Image.fromarray(np.asarray(image))
    grey = image.mode in _GREY_MODES
    image = image.convert("L" if grey else "RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if grey else array.transpose(2, 0, 1)


def _to_class_dataset(
    hf: Any, *, name: str, image_size: int, image_column: str | None, label_column: str | None
) -> ClassDataset:
    """Convert an in-memory ``datasets.Dataset``; labels become 0..K-1 in class-name order."""
    datasets = require("datasets", "'metaopt[hf]'")
    features = dict(hf.features)
    image_col = _pick_column(features, image_column, datasets.Image, _IMAGE_NAMES, "image", name)
    label_col = _pick_column(features, label_column, datasets.ClassLabel, _LABEL_NAMES, "label", name)
    if len(hf) == 0:
        raise ConfigError(f"{name} is empty")
    raw_labels = hf[label_col]
    label_feature = features[label_col]
    if isinstance(label_feature, datasets.ClassLabel):
        class_names = list(label_feature.names)
        labels = np.asarray(raw_labels, dtype=np.int64)
    else:
        values = sorted(set(raw_labels), key=str)
        class_names = [str(v) for v in values]
        index = {v: i for i, v in enumerate(values)}
        labels = np.asarray([index[v] for v in raw_labels], dtype=np.int64)
    if labels.min() < 0:
        raise ConfigError(f"{name} has unlabelled rows (label -1) in column {label_col!r}")
    # row by row, so only one decoded picture is alive at a time
    arrays = [_to_array(row[image_col], image_size) for row in hf.select_columns([image_col])]
    if any(a.shape[0] == 3 for a in arrays):
        arrays = [np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a for a in arrays]
    # drop class names no row uses, so every class can be sampled by the episode sampler
    used = np.unique(labels)
    remap = np.full(len(class_names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return ClassDataset(name, np.stack(arrays), remap[labels], [class_names[i] for i in used])
