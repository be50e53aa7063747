"""Your own TaskSource as a benchmark: as an object, a dict of splits, or a module:function name."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.runs import RunConfig, build_run, load_run, save_run_config
from metaopt.tasks.base import Task, TaskSource
from metaopt.tasks.benchmarks import get_benchmark


class Lines(TaskSource):
    kind = "regression"
    n_way = None

    def __init__(self, shots: int = 4, queries: int = 3) -> None:
        self.shots, self.queries = shots, queries

    def sample(self, rng: np.random.Generator) -> Task:
        slope = rng.uniform(-1, 1)
        x = torch.as_tensor(rng.uniform(-1, 1, size=(self.shots + self.queries, 2)), dtype=torch.float32)
        y = slope * x[:, :1]
        return Task(x[: self.shots], y[: self.shots], x[self.shots :], y[self.shots :], "regression")


def lines() -> TaskSource:
    return Lines()


TRAIN = {"iterations": 2, "meta_batch": 2, "val_every": 1, "val_tasks": 3}


def test_a_source_object_trains_saves_and_reopens(tmp_path):
    run = build_run(RunConfig("maml", Lines(), train=TRAIN))
    assert (run.config.shots, run.config.queries, run.config.ways) == (4, 3, None)
    save_run_config(tmp_path, run.config)
    trainer = run.trainer(tmp_path, progress=False)
    trainer.fit()
    assert run.config.to_dict()["benchmark"] == "custom:Lines"
    with pytest.raises(ConfigError, match="was a TaskSource object"):
        load_run(tmp_path)
    again = load_run(tmp_path, best=False, benchmark=Lines())
    assert again.trainer(progress=False).evaluate("test", 4).n_tasks == 4


def test_a_dict_of_splits_and_its_mistakes():
    bench = get_benchmark({"train": Lines(), "val": Lines(), "test": Lines()})
    assert bench.kind == "regression" and bench.input_shape() == (2,)
    with pytest.raises(ConfigError, match="keys train, val and test"):
        get_benchmark({"train": Lines(), "test": Lines()})
    with pytest.raises(ConfigError, match="not a TaskSource"):
        get_benchmark({"train": Lines(), "val": Lines(), "test": "nope"})
    with pytest.raises(ConfigError, match="shots=4"):
        build_run(RunConfig("maml", Lines(), shots=10, train=TRAIN))


def test_a_module_function_name(monkeypatch):
    monkeypatch.setitem(sys.modules, "my_tasks_for_test", sys.modules[__name__])
    monkeypatch.setattr(sys.modules[__name__], "lines", lines, raising=False)
    run = build_run(RunConfig("maml", "my_tasks_for_test:lines", train=TRAIN))
    assert run.config.to_dict()["benchmark"] == "my_tasks_for_test:lines"
    with pytest.raises(ConfigError, match="cannot import"):
        get_benchmark("no_such_module_xyz:tasks")
    assert get_benchmark("sinusoid").kind == "regression"  # names still work
