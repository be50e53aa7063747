"""Real Omniglot (Lake et al. 2015) from a folder in torchvision's layout, read offline.

``root/omniglot-py/images_background/<Alphabet>/<character>/*.png`` and the same under
``images_evaluation``. The 105x105 black-on-white PNGs are resized to 28x28 with Lanczos, as in the
MAML data script, and inverted so ink is bright like every other ClassDataset.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from metaopt.errors import ConfigError
from metaopt.tasks.base import ClassDataset, ClassSplits
from metaopt.tasks.episodes import split_by_group

__all__ = ["load_omniglot_folder", "omniglot_splits", "IMAGE_SIZE"]

IMAGE_SIZE = 28
PARTS = ("background", "evaluation")
VAL_FRACTION = 0.15
SPLIT_SEED = 0


def _base_dir(root: str) -> str:
    """The folder holding images_background/images_evaluation: ``root/omniglot-py`` or ``root``."""
    for base in (os.path.join(root, "omniglot-py"), root):
        if any(os.path.isdir(os.path.join(base, f"images_{part}")) for part in PARTS):
            return base
    raise ConfigError(
        f"no Omniglot folder at {root}: expected {os.path.join(root, 'omniglot-py', 'images_background')} "
        "(torchvision layout) or images_background/images_evaluation directly inside it"
    )


def _subdirs(path: str) -> list[str]:
    return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))


def _load_png(path: str) -> np.ndarray:
    with Image.open(path) as image:
        small = image.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return 255 - np.asarray(small, dtype=np.uint8)


def load_omniglot_folder(root: str) -> ClassDataset:
    """All characters of both parts; class names ``<part>/<Alphabet>/<character>``, groups
    ``<part>/<Alphabet>`` so the background/evaluation split survives."""
    base = _base_dir(root)
    images: list[np.ndarray] = []
    labels: list[int] = []
    class_names: list[str] = []
    class_groups: list[str] = []
    for part in PARTS:
        part_dir = os.path.join(base, f"images_{part}")
        if not os.path.isdir(part_dir):
            continue
        for alphabet in _subdirs(part_dir):
            for character in _subdirs(os.path.join(part_dir, alphabet)):
                char_dir = os.path.join(part_dir, alphabet, character)
                pngs = sorted(n for n in os.listdir(char_dir) if n.lower().endswith(".png"))
                if not pngs:
                    continue
                label = len(class_names)
                class_names.append(f"{part}/{alphabet}/{character}")
                class_groups.append(f"{part}/{alphabet}")
                for name in pngs:
                    images.append(_load_png(os.path.join(char_dir, name)))
                    labels.append(label)
    if not images:
        raise ConfigError(f"Omniglot folder {base} holds no <alphabet>/<character>/*.png images")
    return ClassDataset(
        "omniglot",
        np.stack(images)[:, None],
        np.asarray(labels, dtype=np.int64),
        class_names,
        class_groups,
    )


def omniglot_splits(ds: ClassDataset) -> ClassSplits:
    """The standard Omniglot split: background alphabets train (a seeded ~15% of them held out for
    meta-validation), evaluation alphabets test."""
    if ds.class_groups is None:
        raise ConfigError(f"{ds.name} has no alphabets to split by")
    groups = sorted(set(ds.class_groups))
    background = [g for g in groups if g.startswith("background/")]
    evaluation = [g for g in groups if g.startswith("evaluation/")]
    if len(background) < 2 or not evaluation:
        raise ConfigError(
            f"{ds.name} needs at least 2 background and 1 evaluation alphabet for its split, "
            f"found {len(background)} and {len(evaluation)}"
        )
    order = [background[i] for i in np.random.default_rng(SPLIT_SEED).permutation(len(background))]
    n_val = min(len(background) - 1, max(1, round(VAL_FRACTION * len(background))))
    return split_by_group(ds, background, evaluation, order[:n_val])
