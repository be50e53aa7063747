"""Task sources: sinusoid regression and N-way K-shot episodes over class datasets."""

from metaopt.tasks.base import ClassDataset, ClassSplits, Task, TaskSource, task_rng
from metaopt.tasks.benchmarks import Benchmark, available_benchmarks, get_benchmark

__all__ = [
    "Task",
    "TaskSource",
    "ClassDataset",
    "ClassSplits",
    "task_rng",
    "Benchmark",
    "get_benchmark",
    "available_benchmarks",
]
