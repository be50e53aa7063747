"""Glyphs: an Omniglot-style few-shot benchmark rendered offline from Debian's Noto fonts.

Alphabet = script (Devanagari, Tifinagh, ...), class = one letter of it, and each class is drawn
by ``drawers`` drawers: a font design of the script (Sans/Serif/Kufi/Looped..., every weight and
width) with its own pen width, slant and size, plus per-image jitter and a smooth elastic warp.
Images are [N, 1, H, W] uint8 with bright ink on black, like Omniglot after inversion.

Choices (see the module notes in ``_glyph_fonts``): letters are Unicode Lu/Ll/Lo/Lt characters whose
name says LETTER/SYLLABLE/... of the script; precomposed and "WITH <mark>" letters, presentation forms,
ideographs, hieroglyphs, symbol/maths/music fonts are left out; Latin, Greek and Cyrillic are kept
but only their basic letters (as in Omniglot). Each alphabet keeps at most MAX_LETTERS letters (a
seeded choice) so a few huge syllabaries (Yi, Canadian Syllabics, Bamum) cannot dominate a split.
Letters that look the same as an earlier one (same glyph under another code point, Latin X vs
Cyrillic HA) are dropped, so no episode can hold two indistinguishable classes, and so are
letters with almost no ink (a lone dot or tick). Rashi Hebrew fonts are left out (other letter
shapes than square Hebrew); Mongolian, stored sideways for vertical lines, is turned upright.

The full set (135 alphabets, ~6,300 letters x 20 drawers from Debian 12 fonts-noto 20201225)
is built once and cached as an .npz keyed by the parameters and the installed font files. The build
(``_glyph_build``) renders alphabets in worker processes, keeps each finished alphabet on disk so an
interrupted build resumes, and shows a progress bar on every step; it takes minutes of CPU (6-14 min
measured on a busy 2-core machine).
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile

import numpy as np

from metaopt.errors import ConfigError
from metaopt.tasks._glyph_build import PartStore, build_dataset, write_dataset
from metaopt.tasks._glyph_fonts import discover_alphabets, noto_files
from metaopt.tasks.base import ClassDataset, ClassSplits
from metaopt.tasks.episodes import split_by_group

__all__ = ["load_glyphs", "load_glyph_file", "glyph_splits", "default_cache_dir", "MAX_LETTERS"]

CACHE_VERSION = 1  # bump whenever rendering changes, so stale caches are not reused
MAX_LETTERS = 100
EVALUATION_FRACTION = 0.4
VAL_FRACTION = 0.15
SPLIT_SEED = 0


def default_cache_dir() -> str:
    """``$METAOPT_DATA`` if set, else ``~/.cache/metaopt``."""
    return os.environ.get("METAOPT_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "metaopt")


def load_glyphs(
    cache_dir: str | None = None,
    *,
    drawers: int = 20,
    image_size: int = 28,
    max_alphabets: int | None = None,
    font_dir: str | None = None,
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
) -> ClassDataset:
    """The glyph benchmark, built on first use and loaded from the cache afterwards.

    ``max_alphabets`` keeps the first alphabets in name order (small sets for tests). ``workers``
    processes render alphabets in parallel (default: the usable cores, at most 8; the dataset is the
    same for any number). An interrupted build keeps the alphabets it finished and resumes with the
    rest. Raises MissingDependencyError when no Noto fonts are installed.
    """
    if drawers < 20:
        raise ConfigError(f"drawers must be at least 20 (Omniglot has 20 per letter), got {drawers}")
    if image_size < 8:
        raise ConfigError(f"image_size must be at least 8 pixels, got {image_size}")
    if max_alphabets is not None and max_alphabets < 1:
        raise ConfigError(f"max_alphabets must be a positive integer, got {max_alphabets}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers}")
    files = noto_files(font_dir)
    params = {
        "version": CACHE_VERSION,
        "drawers": drawers,
        "image_size": image_size,
        "max_letters": MAX_LETTERS,
        "seed": seed,
        # a fonts-noto upgrade changes file names or sizes and so invalidates the cache
        "fonts": [(os.path.basename(f), os.path.getsize(f)) for f in files],
    }
    root = cache_dir or default_cache_dir()
    path = os.path.join(root, f"glyphs-v{CACHE_VERSION}-{_digest({**params, 'max_alphabets': max_alphabets})}.npz")
    cached = _read_cache(path)
    if cached is not None:
        return cached
    alphabets = discover_alphabets(files, progress=progress)
    if max_alphabets is not None:
        alphabets = alphabets[:max_alphabets]
    # An alphabet renders the same whatever else is built, so builds of any size share the finished parts.
    parts = PartStore(os.path.join(root, f"glyphs-v{CACHE_VERSION}-{_digest(params)}.parts"))
    dataset = build_dataset(alphabets, drawers, image_size, seed, MAX_LETTERS, parts=parts, workers=workers,
                            progress=progress)
    write_dataset(path, dataset, progress)
    parts.discard([a.name for a in alphabets])
    return dataset


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def glyph_splits(ds: ClassDataset) -> ClassSplits:
    """Omniglot-style split by alphabet: ~40% of alphabets for meta-test (evaluation), the rest as
    background, of which ~15% are held out for meta-validation. Seeded, so always the same."""
    if ds.class_groups is None:
        raise ConfigError(f"{ds.name} has no alphabets to split by")
    groups = sorted(set(ds.class_groups))
    if len(groups) < 3:
        raise ConfigError(f"{ds.name} has {len(groups)} alphabets; an alphabet split needs at least 3")
    order = [groups[i] for i in np.random.default_rng(SPLIT_SEED).permutation(len(groups))]
    n_eval = min(len(groups) - 2, max(1, round(EVALUATION_FRACTION * len(groups))))
    evaluation, background = order[:n_eval], order[n_eval:]
    n_val = min(len(background) - 1, max(1, round(VAL_FRACTION * len(background))))
    return split_by_group(ds, background, evaluation, background[:n_val])


def load_glyph_file(path: str) -> ClassDataset:
    """A glyph set built elsewhere (``glyphs-v*.npz`` from another machine's cache), loaded as it is: no fonts
    needed, so a machine without Debian's Noto fonts (a GPU node) trains on exactly the same letters."""
    name = os.path.basename(path)
    if not name.startswith(f"glyphs-v{CACHE_VERSION}-"):
        raise ConfigError(f"{path} is not a glyph set of this version (expected glyphs-v{CACHE_VERSION}-*.npz "
                          "from a glyph cache folder)")
    dataset = _read_cache(path)
    if dataset is None:
        raise ConfigError(f"{path} is not a readable glyph set")
    return dataset


def _read_cache(path: str) -> ClassDataset | None:
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return ClassDataset(
                "glyphs",
                data["images"],
                data["labels"],
                [str(s) for s in data["class_names"]],
                [str(s) for s in data["class_groups"]],
            )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        # a truncated or foreign file: rebuild and overwrite it
        return None
