"""Your own tasks as a benchmark: a :class:`TaskSource` (one for every split, or a dict of split -> source),
given to ``RunConfig(benchmark=...)`` as an object, or named ``"package.module:function"`` (a function that
returns one) so that ``metaopt train``/``evaluate``/``tune`` and a saved run's ``config.json`` can find it.

Episode sizes (ways, shots, queries) and the input shape are the source's own, read from one sampled task.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from metaopt.errors import ConfigError
from metaopt.tasks.base import Task, TaskSource, task_rng
from metaopt.typing import Split

__all__ = ["SourceBenchmark", "source_benchmark", "is_source_name", "source_name"]

SPLITS: tuple[Split, ...] = ("train", "val", "test")


class SourceBenchmark:
    """A benchmark made of given task sources; it answers what ``metaopt.runs.build_run`` asks a
    :class:`metaopt.tasks.benchmarks.Benchmark`."""

    def __init__(self, name: str, sources: TaskSource | Mapping[str, TaskSource]) -> None:
        if isinstance(sources, TaskSource):
            sources = dict.fromkeys(SPLITS, sources)  # one distribution; splits differ by seed stream
        if not isinstance(sources, Mapping) or set(sources) != set(SPLITS):
            raise ConfigError(f"benchmark {name!r}: give a TaskSource or a dict with keys train, val and test, "
                              f"got {type(sources).__name__}"
                              + (f" with keys {', '.join(map(str, sources))}" if isinstance(sources, Mapping) else ""))
        bad = [s for s in SPLITS if not isinstance(sources[s], TaskSource)]
        if bad:
            raise ConfigError(f"benchmark {name!r}: {bad[0]} is a {type(sources[bad[0]]).__name__}, not a TaskSource")
        kinds = {sources[s].kind for s in SPLITS}
        if len(kinds) != 1:
            raise ConfigError(f"benchmark {name!r}: splits of different kinds ({', '.join(sorted(kinds))})")
        self.name = name
        self.kind = kinds.pop()
        self._sources = {s: sources[s] for s in SPLITS}
        task = self._sources["train"].sample(task_rng(0, 0, 0))
        if not isinstance(task, Task):
            raise ConfigError(f"benchmark {name!r}: sources of {self.kind} tasks are not supported; give "
                              "classification or regression Task episodes")
        ways = self._sources["train"].n_way if self.kind == "classification" else None
        per = ways or 1
        self.default_ways, self.default_shots = ways, len(task.support_y) // per
        self.default_queries = len(task.query_y) // per
        self._shape = tuple(task.support_x.shape[1:])

    def input_shape(self) -> tuple[int, ...]:
        return self._shape

    def sources(self, *, ways: int | None, shots: int, queries: int) -> dict[Split, TaskSource]:
        given = {"ways": (ways, self.default_ways), "shots": (shots, self.default_shots),
                 "queries": (queries, self.default_queries)}
        for key, (asked, own) in given.items():
            if asked != own:
                raise ConfigError(f"benchmark {self.name!r} makes its own episodes ({key}={own}); "
                                  f"{key}={asked} does not apply")
        return dict(self._sources)


def is_source_name(name: str) -> bool:
    """``package.module:function`` (not ``hf:NAME`` or ``gym:MODULE:FAMILY``, which are built-in benchmark kinds)."""
    module, sep, attr = name.partition(":")
    return bool(sep and module and attr and module not in ("hf", "gym"))


def source_benchmark(benchmark: Any) -> SourceBenchmark:
    """The benchmark of a TaskSource, a dict of split -> TaskSource, or a ``module:function`` name."""
    if isinstance(benchmark, str):
        module_name, _, attr = benchmark.partition(":")
        if module_name == "custom":
            raise ConfigError(f"benchmark {benchmark!r} was a TaskSource object when the run was made; pass the "
                              "same source again, e.g. load_run(DIR, benchmark=source)")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"benchmark {benchmark!r}: cannot import it ({exc})") from None
        return SourceBenchmark(benchmark, factory() if callable(factory) else factory)
    return SourceBenchmark(source_name(benchmark), benchmark)


def source_name(benchmark: Any) -> str:
    """What a run directory's ``config.json`` records for a source given as an object."""
    if isinstance(benchmark, str):
        return benchmark
    one = benchmark["train"] if isinstance(benchmark, Mapping) and "train" in benchmark else benchmark
    return f"custom:{type(one).__name__}"
