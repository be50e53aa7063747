"""Building the glyph benchmark: render every alphabet (in parallel, resumably), drop duplicate letters
across alphabets, and write the cache file, with a progress bar on each step.

Each finished alphabet is saved at once as its own small file in a ``.parts`` folder next to the cache,
so a build that is interrupted (Ctrl-C, a killed job, a full disk) keeps what it rendered and the next
build renders only the rest. Every alphabet seeds its own generators, so the dataset is the same whatever
the number of workers and whichever alphabets came from disk. The parts are deleted once the cache
file holding them is written.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from metaopt.errors import ConfigError
from metaopt.tasks._glyph_fonts import Alphabet
from metaopt.tasks._glyph_render import DUPLICATE_SIMILARITY, render_alphabet, similarity
from metaopt.tasks.base import ClassDataset

__all__ = ["PartStore", "build_dataset", "default_workers", "write_dataset"]

Rendered = tuple[list[int], np.ndarray, np.ndarray]  # letters, templates [L, H, W], images [L, D, H, W]
# Alphabets whose letters win when a later alphabet repeats them (the order Omniglot users expect).
_PRIORITY = ("Latin", "Greek", "Cyrillic")
# Below this many letters in all, starting worker processes costs more than it saves.
_POOL_MIN_LETTERS = 500


def default_workers() -> int:
    """The cores this process may use (its CPU affinity, not the machine's count), at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


class PartStore:
    """One ``.npz`` per finished alphabet in ``folder``; written atomically, so a file is whole or absent."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".npz")

    def load(self, name: str, drawers: int, size: int) -> Rendered | None:
        """The saved alphabet, or None when it is missing, unreadable or of other sizes."""
        path = self.path(name)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                letters, templates, images = data["letters"], data["templates"], data["images"]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return None
        if images.shape[1:] != (drawers, size, size) or len(letters) != len(images) != len(templates):
            return None
        return [int(cp) for cp in letters], templates, images

    def save(self, name: str, rendered: Rendered) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        letters, templates, images = rendered
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, letters=np.asarray(letters, dtype=np.int64), templates=templates, images=images)
            os.replace(tmp, self.path(name))
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def discard(self, names: list[str]) -> None:
        """Delete these alphabets' parts, and the folder once it is empty (other builds may still use it)."""
        for name in names:
            self.path(name).unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            pass


def build_dataset(
    alphabets: list[Alphabet], drawers: int, size: int, seed: int, max_letters: int, *,
    parts: PartStore, workers: int | None = None, progress: bool = True,
) -> ClassDataset:
    """Render (or load from ``parts``) every alphabet, then keep each letter once across alphabets."""
    results = render_all(alphabets, drawers, size, seed, max_letters, parts=parts, workers=workers,
                         progress=progress)
    keep = _unique_letters(results, progress)
    images, labels, class_names, class_groups = [], [], [], []
    for alphabet in alphabets:
        letters, _, drawn = results[alphabet.name]
        mask = keep[alphabet.name]
        for cp, row in zip(np.asarray(letters, dtype=np.int64)[mask], drawn[mask], strict=True):
            labels.append(np.full(drawers, len(class_names), dtype=np.int64))
            images.append(row[:, None])
            class_names.append(f"{alphabet.name}/U+{int(cp):04X} {unicodedata.name(chr(cp), '')}")
            class_groups.append(alphabet.name)
    if not class_names:
        raise ConfigError("no letters could be rendered from the installed Noto fonts")
    return ClassDataset("glyphs", np.concatenate(images), np.concatenate(labels), class_names, class_groups)


def render_all(
    alphabets: list[Alphabet], drawers: int, size: int, seed: int, max_letters: int, *,
    parts: PartStore, workers: int | None = None, progress: bool = True,
) -> dict[str, Rendered]:
    """Every alphabet's rendering, by name: saved parts are loaded, the rest rendered and saved one by one."""
    results: dict[str, Rendered] = {}
    todo = []
    for alphabet in alphabets:
        saved = parts.load(alphabet.name, drawers, size)
        if saved is None:
            todo.append(alphabet)
        else:
            results[alphabet.name] = saved
    bar = _bar(len(alphabets), progress, "rendering glyph alphabets", "alphabet", initial=len(results))
    # Largest first: a big syllabary started last would leave the other workers idle at the end.
    todo.sort(key=lambda a: (-len(a.letters), a.name))
    jobs = [(a, drawers, size, seed, max_letters) for a in todo]
    try:
        for name, rendered in _render_jobs(jobs, workers):
            parts.save(name, rendered)
            results[name] = rendered
            bar.set_postfix_str(name, refresh=False)
            bar.update(1)
    finally:
        bar.close()
    return results


def _render_named(job: tuple[Alphabet, int, int, int, int]) -> tuple[str, Rendered]:
    return job[0].name, render_alphabet(job)


def _render_jobs(jobs: list, workers: int | None) -> Iterator[tuple[str, Rendered]]:
    """Results as they finish. With ``workers`` None, a pool only where it pays (many letters, several cores)."""
    if not jobs:
        return
    if workers is None:
        letters = sum(len(job[0].letters) for job in jobs)
        workers = default_workers() if letters >= _POOL_MIN_LETTERS else 1
    workers = min(workers, len(jobs))
    # fork, not spawn: spawn re-imports the caller's __main__, which breaks unguarded scripts
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(_render_named, jobs)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap_unordered(_render_named, jobs)


def _unique_letters(results: dict[str, Rendered], progress: bool) -> dict[str, np.ndarray]:
    """Per alphabet, which letters to keep: walking alphabets in priority order, a letter whose clean
    template matches one already kept (Latin X vs Cyrillic HA) is dropped."""
    order = sorted(results, key=lambda n: (_PRIORITY.index(n) if n in _PRIORITY else len(_PRIORITY), n))
    kept: list[np.ndarray] = []
    keep: dict[str, np.ndarray] = {}
    bar = _bar(len(order), progress, "dropping duplicate letters", "alphabet")
    for name in order:
        templates = results[name][1]
        mask = np.ones(len(templates), dtype=bool)
        if kept and len(templates):
            mask = similarity(templates, np.concatenate(kept)).max(axis=1) <= DUPLICATE_SIMILARITY
        keep[name] = mask
        kept.append(templates[mask])
        bar.update(1)
    bar.close()
    return keep


def write_dataset(path: str | Path, ds: ClassDataset, progress: bool = True) -> None:
    """The dataset as a compressed ``.npz`` (what ``np.load`` reads), with a progress bar in bytes.
    Written to a temporary file and renamed, so readers never see half a file."""
    from tqdm.utils import CallbackIOWrapper

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"images": ds.images, "labels": ds.labels, "class_names": np.asarray(ds.class_names),
              "class_groups": np.asarray(ds.class_groups)}
    total = sum(a.nbytes + 128 for a in arrays.values())  # 128: each array's .npy header
    bar = _bar(total, progress, "writing glyph cache", "B", unit_scale=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".glyphs-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    # numpy writes a non-file stream in chunks, so the bar moves as the bytes are compressed
                    np.lib.format.write_array(CallbackIOWrapper(bar.update, member, "write"), array,
                                              allow_pickle=False)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a data cache may be shared
        # concurrent builders just overwrite each other with the same content
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    finally:
        bar.close()


def _bar(total: int, enabled: bool, desc: str, unit: str, **kwargs: Any) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, **kwargs)
