"""Omniglot folder loader on a tiny fake torchvision-layout folder built with Pillow."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from metaopt.errors import ConfigError
from metaopt.tasks.omniglot import load_omniglot_folder, omniglot_splits

LAYOUT = {
    "background": {"Alpha": 3, "Beta": 2, "Gamma": 2},
    "evaluation": {"Delta": 2, "Epsilon": 1},
}
DRAWERS = 4


def _make_folder(root: Path) -> None:
    """105x105 black strokes on white, like the real PNGs (mode '1')."""
    for part, alphabets in LAYOUT.items():
        for a, (alphabet, n_chars) in enumerate(alphabets.items()):
            for c in range(n_chars):
                char_dir = root / "omniglot-py" / f"images_{part}" / alphabet / f"character{c + 1:02d}"
                char_dir.mkdir(parents=True)
                for d in range(DRAWERS):
                    image = Image.new("1", (105, 105), 1)
                    x = 10 + 15 * c + 3 * d + 5 * a
                    ImageDraw.Draw(image).rectangle([x, 20, x + 20, 80], fill=0)
                    image.save(char_dir / f"{c:04d}_{d + 1:02d}.png")


@pytest.fixture()
def omniglot_root(tmp_path: Path) -> Path:
    _make_folder(tmp_path)
    return tmp_path


def test_loads_shapes_groups_and_inverts(omniglot_root: Path) -> None:
    ds = load_omniglot_folder(str(omniglot_root))
    n_classes = sum(sum(a.values()) for a in LAYOUT.values())
    assert ds.num_classes == n_classes
    assert ds.images.shape == (n_classes * DRAWERS, 1, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64
    assert np.bincount(ds.labels).tolist() == [DRAWERS] * n_classes
    assert ds.class_names[0] == "background/Alpha/character01"
    assert set(ds.class_groups) == {f"{p}/{a}" for p, alphabets in LAYOUT.items() for a in alphabets}
    # white paper becomes black, the black stroke bright
    assert ds.images[:, 0, 0, 0].max() == 0
    assert ds.images.max(axis=(1, 2, 3)).min() > 200


def test_accepts_the_inner_folder(omniglot_root: Path) -> None:
    inner = load_omniglot_folder(str(omniglot_root / "omniglot-py"))
    outer = load_omniglot_folder(str(omniglot_root))
    np.testing.assert_array_equal(inner.images, outer.images)
    assert inner.class_names == outer.class_names


def test_splits_background_evaluation(omniglot_root: Path) -> None:
    ds = load_omniglot_folder(str(omniglot_root))
    splits = omniglot_splits(ds)
    assert splits == omniglot_splits(ds)
    groups = ds.class_groups
    assert all(groups[i].startswith("evaluation/") for i in splits.test)
    assert all(groups[i].startswith("background/") for i in splits.train + splits.val)
    assert splits.train and splits.val
    assert len(splits.train) + len(splits.val) + len(splits.test) == ds.num_classes
    val_alphabets = {groups[i] for i in splits.val}
    assert len(val_alphabets) == 1 and not val_alphabets & {groups[i] for i in splits.train}


def test_missing_folder_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match="nowhere"):
        load_omniglot_folder(str(missing))


def test_empty_folder_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "omniglot-py" / "images_background" / "Alpha" / "character01").mkdir(parents=True)
    with pytest.raises(ConfigError, match="omniglot-py"):
        load_omniglot_folder(str(tmp_path))


def test_split_needs_evaluation_alphabets(tmp_path: Path) -> None:
    _make_folder(tmp_path)
    shutil.rmtree(tmp_path / "omniglot-py" / "images_evaluation")
    with pytest.raises(ConfigError, match="evaluation"):
        omniglot_splits(load_omniglot_folder(str(tmp_path)))
