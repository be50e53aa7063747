"""Glyph benchmark: a small set rendered from a handful of real Noto fonts into tmp dirs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from metaopt.errors import ConfigError, MissingDependencyError
from metaopt.tasks import glyphs
from metaopt.tasks._glyph_fonts import NOTO_DIR
from metaopt.tasks.base import ClassDataset
from metaopt.tasks.glyphs import glyph_splits, load_glyphs

# Small scripts keep the build to a few seconds; Lisu has four weights (distinct drawer fonts) and
# Symbols2 must be skipped as not an alphabet.
FONTS = [
    "NotoSansGothic-Regular.ttf",
    "NotoSansHanunoo-Regular.ttf",
    "NotoSansLisu-Regular.ttf",
    "NotoSansLisu-Bold.ttf",
    "NotoSansOgham-Regular.ttf",
    "NotoSansTagbanwa-Regular.ttf",
    "NotoSansSymbols2-Regular.ttf",
]
MAX_ALPHABETS = 4

pytestmark = pytest.mark.skipif(
    not all(os.path.exists(os.path.join(NOTO_DIR, f)) for f in FONTS),
    reason="Noto fonts not installed (apt-get install fonts-noto-core fonts-noto-extra)",
)


@pytest.fixture(scope="module")
def font_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("fonts")
    for name in FONTS:
        (root / name).symlink_to(os.path.join(NOTO_DIR, name))
    return str(root)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def small(font_dir: str, cache_dir: Path) -> ClassDataset:
    return load_glyphs(str(cache_dir), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False)


def test_shapes_dtype_and_drawers(small: ClassDataset) -> None:
    assert small.images.dtype == np.uint8
    assert small.images.ndim == 4 and small.images.shape[1:] == (1, 28, 28)
    assert small.labels.dtype == np.int64
    assert len(small.class_names) == len(small.class_groups) == small.num_classes
    assert len(set(small.class_names)) == small.num_classes
    counts = np.bincount(small.labels, minlength=small.num_classes)
    assert counts.min() >= 20
    groups = set(small.class_groups)
    assert len(groups) == MAX_ALPHABETS
    assert not any("Symbol" in g for g in groups)
    # ink is bright on a dark background and every image holds a visible letter
    images = small.images[:, 0].astype(np.int64)
    assert np.median(images[:, 0, :]) == 0 and np.median(images[:, :, 0]) == 0
    assert ((images > 127).sum(axis=(1, 2)) > 0).all()
    assert images.max(axis=(1, 2)).min() == 255


def test_drawers_differ_within_a_class(small: ClassDataset) -> None:
    for idx in small.indices_by_class()[:10]:
        images = small.images[idx].reshape(len(idx), -1)
        assert len(np.unique(images, axis=0)) == len(idx)


def test_cache_file_reused(small: ClassDataset, font_dir: str, cache_dir: Path, monkeypatch) -> None:
    files = list(cache_dir.glob("glyphs-v*.npz"))
    assert len(files) == 1
    assert not list(cache_dir.glob("*.tmp"))

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt although a cache file exists")

    monkeypatch.setattr(glyphs, "build_dataset", no_build)
    again = load_glyphs(str(cache_dir), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False)
    np.testing.assert_array_equal(again.images, small.images)
    np.testing.assert_array_equal(again.labels, small.labels)
    assert again.class_names == small.class_names and again.class_groups == small.class_groups


def test_corrupt_cache_is_rebuilt(font_dir: str, tmp_path: Path) -> None:
    first = load_glyphs(str(tmp_path), max_alphabets=1, font_dir=font_dir, progress=False)
    (path,) = tmp_path.glob("glyphs-v*.npz")
    path.write_bytes(b"not a zip file")
    second = load_glyphs(str(tmp_path), max_alphabets=1, font_dir=font_dir, progress=False)
    np.testing.assert_array_equal(first.images, second.images)


def test_deterministic_under_seed(small: ClassDataset, font_dir: str, tmp_path: Path) -> None:
    rebuilt = load_glyphs(str(tmp_path / "a"), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False)
    np.testing.assert_array_equal(rebuilt.images, small.images)
    assert rebuilt.class_names == small.class_names
    other = load_glyphs(str(tmp_path / "b"), max_alphabets=1, font_dir=font_dir, seed=1, progress=False)
    first = small.indices_by_class()[0]
    assert other.class_names[0] == small.class_names[0]
    assert not np.array_equal(other.images[other.indices_by_class()[0]], small.images[first])


def test_splits_disjoint_by_class_and_alphabet(small: ClassDataset) -> None:
    splits = glyph_splits(small)
    assert splits == glyph_splits(small)
    parts = [splits.train, splits.val, splits.test]
    assert all(parts)
    assert sorted(i for p in parts for i in p) == list(range(small.num_classes))
    alphabets = [{small.class_groups[i] for i in p} for p in parts]
    assert not (alphabets[0] & alphabets[1] or alphabets[0] & alphabets[2] or alphabets[1] & alphabets[2])


def test_split_needs_three_alphabets(font_dir: str, tmp_path: Path) -> None:
    one = load_glyphs(str(tmp_path), max_alphabets=1, font_dir=font_dir, progress=False)
    with pytest.raises(ConfigError, match="at least 3"):
        glyph_splits(one)


def test_missing_fonts_name_the_packages(tmp_path: Path) -> None:
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    with pytest.raises(MissingDependencyError, match="apt-get install fonts-noto-core fonts-noto-extra") as err:
        load_glyphs(str(tmp_path), font_dir=str(empty), progress=False)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kwargs", [{"drawers": 5}, {"image_size": 4}, {"max_alphabets": 0}, {"workers": 0}])
def test_bad_parameters(kwargs: dict, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_glyphs(str(tmp_path), progress=False, **kwargs)


def _interrupt_after(calls: int, real):
    """A render_alphabet that works ``calls`` times, then acts as if Ctrl-C was pressed."""
    done = []

    def render(job):
        if len(done) == calls:
            raise KeyboardInterrupt
        done.append(job[0].name)
        return real(job)

    return render, done


def test_interrupted_build_resumes_to_the_same_dataset(small: ClassDataset, font_dir: str, tmp_path: Path,
                                                       monkeypatch) -> None:
    from metaopt.tasks import _glyph_build

    real = _glyph_build.render_alphabet
    render, finished = _interrupt_after(2, real)
    monkeypatch.setattr(_glyph_build, "render_alphabet", render)
    with pytest.raises(KeyboardInterrupt):
        load_glyphs(str(tmp_path), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False, workers=1)
    assert not list(tmp_path.glob("glyphs-*.npz"))
    (parts,) = tmp_path.glob("glyphs-*.parts")
    assert sorted(p.stem for p in parts.glob("*.npz")) == sorted(finished) and len(finished) == 2
    assert not list(parts.glob("*.tmp"))

    rendered = []
    monkeypatch.setattr(_glyph_build, "render_alphabet", lambda job: rendered.append(job[0].name) or real(job))
    resumed = load_glyphs(str(tmp_path), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False, workers=1)
    assert len(rendered) == MAX_ALPHABETS - 2 and not set(rendered) & set(finished)  # only the rest
    np.testing.assert_array_equal(resumed.images, small.images)
    np.testing.assert_array_equal(resumed.labels, small.labels)
    assert resumed.class_names == small.class_names and resumed.class_groups == small.class_groups
    assert not parts.exists()  # the parts go once the cache file holds them


def test_interrupted_write_keeps_every_alphabet(small: ClassDataset, font_dir: str, tmp_path: Path,
                                                monkeypatch) -> None:
    """Stopped while writing the cache (the slowest step without a bar before): nothing is rendered again."""
    from metaopt.tasks import _glyph_build

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(glyphs, "write_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_glyphs(str(tmp_path), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False, workers=1)
    monkeypatch.undo()

    def no_render(job: object) -> None:
        raise AssertionError("rendered again although every alphabet was kept")

    monkeypatch.setattr(_glyph_build, "render_alphabet", no_render)
    resumed = load_glyphs(str(tmp_path), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False)
    np.testing.assert_array_equal(resumed.images, small.images)
    assert resumed.class_names == small.class_names


def test_one_or_two_workers_give_the_same_dataset(small: ClassDataset, font_dir: str, tmp_path: Path) -> None:
    # `small` was built with the default workers; build once serially and once with a pool of two
    one = load_glyphs(str(tmp_path / "one"), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False,
                      workers=1)
    two = load_glyphs(str(tmp_path / "two"), max_alphabets=MAX_ALPHABETS, font_dir=font_dir, progress=False,
                      workers=2)
    for ds in (one, two):
        np.testing.assert_array_equal(ds.images, small.images)
        np.testing.assert_array_equal(ds.labels, small.labels)
        assert ds.class_names == small.class_names and ds.class_groups == small.class_groups


def test_progress_bars_on_every_step(font_dir: str, tmp_path: Path, capsys) -> None:
    load_glyphs(str(tmp_path), max_alphabets=1, font_dir=font_dir, progress=True, workers=1)
    err = capsys.readouterr().err
    for step in ("reading Noto fonts", "rendering glyph alphabets", "dropping duplicate letters",
                 "writing glyph cache"):
        assert step in err


def test_a_built_set_copied_elsewhere_loads_without_fonts(small: ClassDataset, cache_dir: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    from metaopt.tasks import get_benchmark

    (built,) = cache_dir.glob("glyphs-v*.npz")
    copied = tmp_path / built.name
    copied.write_bytes(built.read_bytes())
    monkeypatch.setattr(glyphs, "noto_files", lambda *_: pytest.fail("looked for fonts"))
    loaded = get_benchmark("glyphs", data_root=str(copied)).data()[0]
    np.testing.assert_array_equal(loaded.images, small.images)
    assert loaded.class_names == small.class_names
    other = tmp_path / "glyphs-v1-0000.npz"
    other.write_bytes(b"not a zip file")
    with pytest.raises(ConfigError, match="not a readable glyph set"):
        glyphs.load_glyph_file(str(other))
    with pytest.raises(ConfigError, match="not a glyph set of this version"):
        glyphs.load_glyph_file(str(tmp_path / "mnist.npz"))
