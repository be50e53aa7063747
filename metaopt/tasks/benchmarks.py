"""Benchmarks by name: where tasks come from, their splits and the model that suits them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from metaopt.errors import ConfigError
from metaopt.tasks.base import ClassDataset, ClassSplits, TaskSource
from metaopt.tasks.custom import SourceBenchmark, is_source_name, source_benchmark
from metaopt.typing import Split, TaskKind

__all__ = ["Benchmark", "get_benchmark", "available_benchmarks", "BENCHMARK_HELP"]


@dataclass
class Benchmark:
    """A named task family. ``sources`` builds one task source per split."""

    name: str
    kind: TaskKind
    description: str
    default_ways: int | None
    default_shots: int
    default_queries: int
    _load: Callable[[], tuple[ClassDataset, ClassSplits]] | None = None
    _cache: tuple[ClassDataset, ClassSplits] | None = field(default=None, repr=False)

    def data(self) -> tuple[ClassDataset, ClassSplits]:
        if self._load is None:
            raise ConfigError(f"benchmark {self.name!r} is not an image-class benchmark")
        if self._cache is None:
            self._cache = self._load()
        return self._cache

    def input_shape(self) -> tuple[int, ...]:
        if self.kind == "rl":
            raise ConfigError(f"benchmark {self.name!r} is reinforcement learning; ask its task source for sizes")
        if self.kind == "regression":
            return (1,)
        return self.data()[0].image_shape

    def sources(self, *, ways: int | None, shots: int, queries: int) -> dict[Split, TaskSource]:
        if self.kind == "rl":
            from metaopt.tasks.rl import rl_sources

            return rl_sources(self.name, size=ways if ways is not None else self.default_ways, horizon=shots)
        if self.kind == "regression":
            from metaopt.tasks.sinusoid import SinusoidTasks

            for name, value in (("shots", shots), ("queries", queries)):
                if value < 1:
                    raise ConfigError(f"{name} must be a positive integer, got {value}")
            src = SinusoidTasks(shots, queries)
            return {"train": src, "val": src, "test": src}
        from metaopt.tasks.episodes import EpisodeSampler

        if ways is None:
            raise ConfigError(f"benchmark {self.name!r} needs --ways")
        dataset, splits = self.data()
        return {
            split: EpisodeSampler(dataset, splits.classes(split), ways=ways, shots=shots, queries=queries)
            for split in ("train", "val", "test")
        }


def _sinusoid() -> Benchmark:
    return Benchmark("sinusoid", "regression", "sinusoid regression (Finn et al. 2017)", None, 10, 10)


def _bandit() -> Benchmark:
    return Benchmark("bandit", "rl", "Bernoulli k-armed bandits (RL^2): --ways arms, --shots pulls", 5, 100, 0)


def _gridworld() -> Benchmark:
    return Benchmark("gridworld", "rl", "grid world with a hidden goal: --ways grid side, --shots steps", 5, 50, 0)


def _nav2d() -> Benchmark:
    return Benchmark("nav2d", "rl", "2-D point navigation to a hidden goal (MAML): --shots steps", None, 100, 0)


def _gym(spec: str) -> Benchmark:
    return Benchmark(spec, "rl", f"Gymnasium-API task family {spec[4:]}", None, 100, 0)


def _glyphs(data_root: str | None) -> Benchmark:
    def load() -> tuple[ClassDataset, ClassSplits]:
        from metaopt.tasks.glyphs import glyph_splits, load_glyph_file, load_glyphs

        # A built set copied from a machine with the fonts (an .npz from its cache) needs no fonts here.
        from_file = data_root is not None and data_root.endswith(".npz")
        ds = load_glyph_file(data_root) if from_file else load_glyphs(cache_dir=data_root)
        return ds, glyph_splits(ds)

    return Benchmark(
        "glyphs", "classification", "Omniglot-style letters rendered from Noto fonts, 28x28", 5, 1, 15, load
    )


def _fashion_mnist(data_root: str | None) -> Benchmark:
    def load() -> tuple[ClassDataset, ClassSplits]:
        from metaopt.tasks.fashion_mnist import fashion_mnist_splits, load_fashion_mnist

        ds = load_fashion_mnist(data_root)
        return ds, fashion_mnist_splits(ds)

    return Benchmark(
        "fashion-mnist", "classification", "Fashion-MNIST from Debian's dataset-fashion-mnist (small sanity set)",
        3, 1, 15, load,
    )


def _omniglot(data_root: str | None) -> Benchmark:
    def load() -> tuple[ClassDataset, ClassSplits]:
        from metaopt.tasks.omniglot import load_omniglot_folder, omniglot_splits

        if data_root is None:
            raise ConfigError("benchmark 'omniglot' needs --data-root pointing at a torchvision-layout Omniglot folder")
        ds = load_omniglot_folder(data_root)
        return ds, omniglot_splits(ds)

    return Benchmark("omniglot", "classification", "real Omniglot from a torchvision-layout folder", 5, 1, 15, load)


def _huggingface(dataset_name: str, data_root: str | None) -> Benchmark:
    def load() -> tuple[ClassDataset, ClassSplits]:
        from metaopt.tasks.episodes import split_classes
        from metaopt.tasks.hf_images import load_hf_image_dataset

        ds = load_hf_image_dataset(dataset_name, cache_dir=data_root)
        return ds, split_classes(ds.num_classes, (0.64, 0.16, 0.20), seed=0)

    return Benchmark(
        f"hf:{dataset_name}", "classification", f"Hugging Face image dataset {dataset_name}", 5, 1, 15, load
    )


BENCHMARK_HELP = {
    "sinusoid": "sinusoid regression (Finn et al. 2017): amplitude 0.1-5, phase 0-pi, x in [-5, 5]",
    "glyphs": "Omniglot-style letters rendered from Debian's Noto fonts, split by alphabet (offline)",
    "fashion-mnist": "Fashion-MNIST from Debian's dataset-fashion-mnist, a small sanity set",
    "omniglot": "real Omniglot in torchvision's folder layout (needs --data-root)",
    "bandit": "Bernoulli k-armed bandits, p ~ U[0, 1] (RL^2); --ways = arms k (default 5), --shots = horizon (100)",
    "gridworld": "5x5 grid world with a hidden goal (RL^2); --ways = grid side (default 5), --shots = steps (50)",
    "nav2d": "2-D point navigation (MAML): goal ~ U[-0.5, 0.5]^2, reward -distance; --shots = steps (100)",
    "gym:MODULE:FAMILY": "a Gymnasium-API environment family (see metaopt.tasks.gym_family); --shots = steps (100)",
    "hf:NAME": "any Hugging Face image-classification dataset by name (needs the 'hf' extra and internet)",
}


def available_benchmarks() -> list[str]:
    return list(BENCHMARK_HELP)


def get_benchmark(name: Any, *, data_root: str | None = None) -> Benchmark | SourceBenchmark:
    """Look up a benchmark by name; unknown names raise a one-line ConfigError. Your own tasks: a TaskSource,
    a dict of split -> TaskSource, or ``"package.module:function"`` returning one (metaopt.tasks.custom)."""
    if not isinstance(name, str) or is_source_name(name):
        return source_benchmark(name)
    if name == "sinusoid":
        return _sinusoid()
    if name == "glyphs":
        return _glyphs(data_root)
    if name == "bandit":
        return _bandit()
    if name == "gridworld":
        return _gridworld()
    if name == "nav2d":
        return _nav2d()
    if name.startswith("gym:") and name.count(":") == 2:
        return _gym(name)
    if name == "fashion-mnist":
        return _fashion_mnist(data_root)
    if name == "omniglot":
        return _omniglot(data_root)
    if name.startswith("hf:") and len(name) > 3:
        return _huggingface(name[3:], data_root)
    raise ConfigError(f"unknown benchmark {name!r}; choose from {', '.join(available_benchmarks())}")
