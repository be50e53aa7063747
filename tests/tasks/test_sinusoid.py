from __future__ import annotations

import math

import torch

from metaopt.tasks.base import task_rng
from metaopt.tasks.benchmarks import get_benchmark
from metaopt.tasks.sinusoid import SinusoidTasks


def test_sinusoid_tasks_follow_finn_et_al():
    source = SinusoidTasks(shots=10, queries=5)
    for i in range(200):
        task = source.sample(task_rng(0, i))
        x = torch.cat([task.support_x, task.query_x])
        y = torch.cat([task.support_y, task.query_y])
        assert task.support_x.shape == (10, 1) and task.query_x.shape == (5, 1)
        assert float(x.min()) >= -5 and float(x.max()) <= 5
        assert float(y.abs().max()) <= 5.0 + 1e-6
    # amplitude and phase recovered from a dense task lie in the published ranges
    dense = SinusoidTasks(shots=2000, queries=1).sample(task_rng(3))
    amplitude = float(dense.support_y.abs().max())
    assert 0.1 <= amplitude <= 5.0
    phase_candidates = torch.linspace(0, math.pi, 629)
    errors = [(dense.support_y - amplitude * torch.sin(dense.support_x - p)).abs().max() for p in phase_candidates]
    assert float(min(errors)) < 0.05 * amplitude + 1e-3


def test_fixed_tasks_are_identical_across_calls_and_differ_by_seed():
    source = get_benchmark("sinusoid").sources(ways=None, shots=5, queries=5)["test"]
    a, b, c = source.fixed_tasks(3, 2), source.fixed_tasks(3, 2), source.fixed_tasks(3, 9)
    assert all(torch.equal(x.support_y, y.support_y) for x, y in zip(a, b))
    assert not torch.equal(a[0].support_y, c[0].support_y)
