"""examples/custom_text_family.py end to end at its smallest sizes, on the real SmolLM2 and MiniLM."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_custom_text_family_example_runs(tmp_path, monkeypatch, capsys):
    import torch

    torch.set_num_threads(1)
    path = ROOT / "examples" / "custom_text_family.py"
    monkeypatch.setattr(sys, "argv", [str(path), "--tiny", "--workdir", str(tmp_path)])
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert (tmp_path / "texts.jsonl").read_text().count("\n") == 54
    assert "9 classes" in out
    for row in ("zero", "knn", "balanced_knn+cc", "learned+cc"):
        assert any(line.startswith(row + " ") for line in out.splitlines()), row
    assert "tuned learned selector: best" in out
