"""Hugging Face conversion, offline: in-memory datasets and a patched load_dataset."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from metaopt.errors import ConfigError
from metaopt.tasks.hf_images import _to_class_dataset, load_hf_image_dataset

datasets = pytest.importorskip("datasets", reason="the 'hf' extra (datasets) is not installed")


def _dataset(mode: str = "L", labels: list[int] | None = None) -> datasets.Dataset:
    labels = labels if labels is not None else [0, 1, 2, 0, 1, 2]
    channels = {"L": (10, 12), "RGB": (10, 12, 3)}[mode]
    images = [Image.fromarray(np.full(channels, 40 * i, np.uint8), mode) for i in range(len(labels))]
    features = datasets.Features(
        {"picture": datasets.Image(), "kind": datasets.ClassLabel(names=["cat", "dog", "owl", "unused"])}
    )
    return datasets.Dataset.from_dict({"picture": images, "kind": labels}, features=features)


def _convert(hf: object, **kwargs: object) -> object:
    args = {"name": "hf:test", "image_size": 8, "image_column": None, "label_column": None}
    return _to_class_dataset(hf, **{**args, **kwargs})


def test_detects_columns_keeps_grey_channel_and_resizes() -> None:
    ds = _convert(_dataset("L"))
    assert ds.images.shape == (6, 1, 8, 8) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.class_names == ["cat", "dog", "owl"]  # the unused class is dropped
    assert ds.images[1].max() == 40


def test_colour_keeps_three_channels() -> None:
    assert _convert(_dataset("RGB")).images.shape == (6, 3, 8, 8)


def test_mixed_modes_become_colour() -> None:
    grey, colour = _dataset("L", [0, 1]), _dataset("RGB", [1, 2])
    mixed = datasets.concatenate_datasets([grey, colour])
    ds = _convert(mixed)
    assert ds.images.shape == (4, 3, 8, 8)
    np.testing.assert_array_equal(ds.images[1, 0], ds.images[1, 2])


def test_plain_label_column_by_name() -> None:
    images = [Image.new("L", (5, 5), 10 * i) for i in range(4)]
    hf = datasets.Dataset.from_dict({"image": images, "label": ["b", "a", "b", "c"]})
    ds = _convert(hf, image_size=5)
    assert ds.class_names == ["a", "b", "c"] and ds.labels.tolist() == [1, 0, 1, 2]


def test_unknown_column_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no column 'nope'"):
        _convert(_dataset(), label_column="nope")


def test_load_by_name_uses_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {}

    def fake_load(name: str, split: str, cache_dir: str | None) -> object:
        calls.update(name=name, split=split, cache_dir=cache_dir)
        return _dataset()

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    ds = load_hf_image_dataset("someone/pets", cache_dir="/tmp/x", split="test", image_size=6)
    assert calls == {"name": "someone/pets", "split": "test", "cache_dir": "/tmp/x"}
    assert ds.name == "hf:someone/pets" and ds.images.shape == (6, 1, 6, 6)


def test_load_failure_is_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Couldn't reach the Hub\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ConfigError, match="someone/pets") as err:
        load_hf_image_dataset("someone/pets")
    assert "\n" not in str(err.value)
