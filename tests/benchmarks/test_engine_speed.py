"""The engine benchmark runs end to end and measures what it names: equal meta-gradients on every side, and a
``--compile`` side that really compiles the vmapped sinusoid meta-batch."""

from __future__ import annotations

import json
import sys

import pytest
import torch

BENCHMARK = "engine_speed"  # loaded by the `bench` fixture (conftest.py)


@pytest.mark.slow
def test_sinusoid_row_with_the_compiled_side(bench, monkeypatch, capsys):
    threads = torch.get_num_threads()
    monkeypatch.setattr(sys, "argv", ["engine_speed.py", "--only", "sinusoid-mb25", "--reps", "2", "--warmup", "1",
                                      "--threads", "1", "--compile", "--json"])
    try:
        bench.main()
    finally:
        torch.set_num_threads(threads)
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["workload"] == "sinusoid-mb25" and row["max_rel_grad_diff_vs_plain"] < 1e-5
    assert set(row["ms"]) == {"batched", "higher", "plain", "null", "compiled"}
    assert row["compiled"] is True and row["compile_seconds"] > 0 and row["speedup_compiled_vs_batched"] > 0


def test_image_tasks_on_a_cpu_are_not_compiled(bench):
    w = bench.Workload("conv5-mb2-1-step", 5, 2, 1)
    _, _, _, compiled = bench.compiled_learner(w, torch.device("cpu"), bench.tasks_for(w, torch.device("cpu")))
    assert compiled is False  # they run one by one on a CPU: the row must say nothing was compiled
