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
is built once, in about 90 s of CPU time spread over the available cores, and cached as an .npz
keyed by the parameters and the installed font files.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from metaopt.errors import ConfigError
from metaopt.tasks._glyph_fonts import Alphabet, discover_alphabets, noto_files
from metaopt.tasks._glyph_render import DUPLICATE_SIMILARITY, render_alphabet, similarity
from metaopt.tasks.base import ClassDataset, ClassSplits
from metaopt.tasks.episodes import split_by_group

__all__ = ["load_glyphs", "glyph_splits", "default_cache_dir", "MAX_LETTERS"]

CACHE_VERSION = 1  # bump whenever rendering changes, so stale caches are not reused
MAX_LETTERS = 100
EVALUATION_FRACTION = 0.4
VAL_FRACTION = 0.15
SPLIT_SEED = 0
# Alphabets whose letters win when a later alphabet repeats them (the order Omniglot users expect).
_PRIORITY = ("Latin", "Greek", "Cyrillic")


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
) -> ClassDataset:
    """The glyph benchmark, built on first use and loaded from the cache afterwards.

    ``max_alphabets`` keeps the first alphabets in name order (small sets for tests). Raises
    MissingDependencyError when no Noto fonts are installed.
    """
    if drawers < 20:
        raise ConfigError(f"drawers must be at least 20 (Omniglot has 20 per letter), got {drawers}")
    if image_size < 8:
        raise ConfigError(f"image_size must be at least 8 pixels, got {image_size}")
    if max_alphabets is not None and max_alphabets < 1:
        raise ConfigError(f"max_alphabets must be a positive integer, got {max_alphabets}")
    files = noto_files(font_dir)
    params = {
        "version": CACHE_VERSION,
        "drawers": drawers,
        "image_size": image_size,
        "max_alphabets": max_alphabets,
        "max_letters": MAX_LETTERS,
        "seed": seed,
        # a fonts-noto upgrade changes file names or sizes and so invalidates the cache
        "fonts": [(os.path.basename(f), os.path.getsize(f)) for f in files],
    }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    root = cache_dir or default_cache_dir()
    path = os.path.join(root, f"glyphs-v{CACHE_VERSION}-{digest}.npz")
    cached = _read_cache(path)
    if cached is not None:
        return cached
    alphabets = discover_alphabets(files)
    if max_alphabets is not None:
        alphabets = alphabets[:max_alphabets]
    dataset = _build(alphabets, drawers, image_size, seed, progress)
    _write_cache(path, dataset)
    return dataset


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


def _build(alphabets: list[Alphabet], drawers: int, size: int, seed: int, progress: bool) -> ClassDataset:
    jobs = [(a, drawers, size, seed, MAX_LETTERS) for a in alphabets]
    bar = _progress(len(jobs), progress)
    results: dict[str, tuple[list[int], np.ndarray, np.ndarray]] = {}
    for alphabet, result in zip(alphabets, _run(jobs), strict=True):
        results[alphabet.name] = result
        bar.update(1)
        bar.set_postfix_str(alphabet.name, refresh=False)
    bar.close()

    # Walk alphabets in priority order and drop letters that duplicate one already kept.
    order = sorted(results, key=lambda n: (_PRIORITY.index(n) if n in _PRIORITY else len(_PRIORITY), n))
    kept_templates: list[np.ndarray] = []
    keep: dict[str, np.ndarray] = {}
    for name in order:
        templates = results[name][1]
        mask = np.ones(len(templates), dtype=bool)
        if kept_templates and len(templates):
            mask = similarity(templates, np.concatenate(kept_templates)).max(axis=1) <= DUPLICATE_SIMILARITY
        keep[name] = mask
        kept_templates.append(templates[mask])

    images, labels, class_names, class_groups = [], [], [], []
    for alphabet in alphabets:
        letters, _, drawn = results[alphabet.name]
        for cp, row in zip(np.asarray(letters)[keep[alphabet.name]], drawn[keep[alphabet.name]], strict=True):
            labels.append(np.full(drawers, len(class_names), dtype=np.int64))
            images.append(row[:, None])
            class_names.append(f"{alphabet.name}/U+{int(cp):04X} {unicodedata.name(chr(cp), '')}")
            class_groups.append(alphabet.name)
    if not class_names:
        raise ConfigError("no letters could be rendered from the installed Noto fonts")
    return ClassDataset("glyphs", np.concatenate(images), np.concatenate(labels), class_names, class_groups)


def _run(jobs: list) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
    """Render alphabets, in parallel where it pays; results come back in job order, and each
    alphabet seeds its own generators, so the output does not depend on the number of workers."""
    workers = min(os.cpu_count() or 1, 8, len(jobs))
    letters = sum(len(job[0].letters) for job in jobs)
    # fork, not spawn: spawn re-imports the caller's __main__, which breaks unguarded scripts
    if workers < 2 or letters < 500 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(render_alphabet, jobs)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(render_alphabet, jobs)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="rendering glyph alphabets", unit="alphabet", disable=not enabled)


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


def _write_cache(path: str, ds: ClassDataset) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".glyphs-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(
                fh,
                images=ds.images,
                labels=ds.labels,
                class_names=np.asarray(ds.class_names),
                class_groups=np.asarray(ds.class_groups),
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a data cache may be shared
        # readers never see a half-written file, and concurrent builders just overwrite each other
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
