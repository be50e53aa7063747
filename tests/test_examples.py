"""The issue #7 examples run end to end on tiny budgets (the published runs use the same code)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_example(monkeypatch, capsys):
    """Run an example script in this process (no second interpreter start-up) and return its stdout."""

    def run(script: str, *args: str) -> str:
        path = ROOT / "examples" / script
        monkeypatch.setattr(sys, "argv", [str(path), *args])
        runpy.run_path(str(path), run_name="__main__")
        return capsys.readouterr().out

    return run


def test_personalisation_example(tmp_path, run_example):
    out = run_example("personalisation.py", "--iterations", "20", "--meta-batch", "4", "--tasks", "8",
                      "--val-tasks", "4", "--out", str(tmp_path))
    summary = json.loads(out.strip().splitlines()[-1])
    assert set(summary["ndcg@10"]) == {"meta-learned (MAML)", "global model", "global + fine-tune",
                                       "per-user from scratch"}
    assert all(0 < row["mean"] <= 1 for row in summary["ndcg@10"].values())


def test_bayesian_sinusoid_example(tmp_path, run_example):
    plot = tmp_path / "intervals.png"
    out = run_example("bayesian_sinusoid.py", "--iterations", "3", "--meta-batch", "2", "--tasks", "5",
                      "--val-tasks", "4", "--out", str(tmp_path), "--plot", str(plot), "--no-progress")
    summary = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    assert 0 <= summary["abml"]["coverage95"] <= 1 and summary["abml"]["interval_width"] > 0
    assert plot.stat().st_size > 10_000


def test_custom_tasks_example(tmp_path, run_example):
    out = run_example("custom_tasks.py", "--iterations", "4", "--tasks", "6", "--trials", "1", "--out", str(tmp_path),
                      "--no-progress")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["blobs"]["metric"] == "accuracy" and 0 <= summary["blobs"]["mean"] <= 1
    assert summary["quadratics"]["metric"] == "mse" and summary["quadratics"]["mean"] > 0
    assert summary["tuned"]["trials"] == 1 and summary["tuned"]["test_mean"] > 0
    saved = json.loads((tmp_path / "quadratics" / "config.json").read_text())
    assert saved["benchmark"] == "custom:Quadratics"
