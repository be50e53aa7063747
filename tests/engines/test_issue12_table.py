"""docs/scripts/issue12_table.py: the 20-way column with engine timings, and 5-way across training seeds."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table():
    return runpy.run_path(str(ROOT / "docs" / "scripts" / "issue12_table.py"), run_name="issue12_table")


def _keep(path: Path, mean: float, *, seconds: float = 60.0, iterations: int = 600, best: int = 600) -> None:
    """A file as glyphs.sh's KEEP writes it: the scores file with the training summary under "train"."""
    path.parent.mkdir(parents=True, exist_ok=True)
    train = {"train_seconds": seconds, "iterations": iterations, "best_iteration": best}
    path.write_text(json.dumps({"mean": mean, "ci95": 0.01, "per_task": [mean] * 3, "train": train}))


def _rows(lines: list[str]) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for line in lines[2:] for cells in [[c.strip() for c in line.strip("|").split("|")]]}


def test_twenty_way_estimates_the_old_engine_from_the_timing_pair(table, tmp_path):
    _keep(tmp_path / "maml-20w1s-600x8.json", 0.8, seconds=3600.0, best=500)
    _keep(tmp_path / "timing" / "maml-20w1s-i50-batched.json", 0.3, seconds=50.0, iterations=50)
    _keep(tmp_path / "timing" / "maml-20w1s-i50-higher.json", 0.3, seconds=60.0, iterations=50)
    _keep(tmp_path / "anil-20w1s-600x8.json", 0.7)  # no timing pair yet
    rows = _rows(table["twenty_way"](tmp_path, steps={"maml": 0.9, "fomaml": 1.5}))
    assert rows["maml"] == ["80.00 ± 1.00", "500", "60 min", "1.00 / 1.20", "1.20x", "72 min", "0.90x", "54 min"]
    assert rows["anil"][:3] == ["70.00 ± 1.00", "600", "1 min"] and rows["anil"][3] == "not run yet"
    assert rows["anil"][-2:] == ["not measured", "-"]
    assert rows["fomaml"][0] == "not run yet" and rows["fomaml"][-2:] == ["1.50x", "-"]


def test_step_ratios_read_the_interleaved_benchmark_rows(table, tmp_path):
    rows = tmp_path / "steps.jsonl"
    rows.write_text('{"algorithm": "maml", "batched": 2.0, "higher": 3.0}\n\n'
                    '{"algorithm": "anil", "batched": 4.0, "higher": 2.0}\n')
    assert table["step_ratios"](rows) == {"maml": 1.5, "anil": 0.5}
    assert table["step_ratios"](tmp_path / "absent.jsonl") == {}
    assert set(table["step_ratios"]()) == set(table["ALGOS"])  # the committed rows cover every learner


def test_seeds_give_the_spread_only_when_all_three_ran(table, tmp_path):
    for seed, mean in enumerate((0.90, 0.92, 0.94)):
        _keep(tmp_path / f"maml-5w1s-s{seed}.json", mean)
    _keep(tmp_path / "anil-5w1s-s1.json", 0.9)
    rows = _rows(table["seeds"](tmp_path))
    assert rows["maml"] == ["90.00 ± 1.00", "92.00 ± 1.00", "94.00 ± 1.00", "92.00 ± 2.00", "90.00–94.00"]
    assert rows["anil"] == ["not run yet", "90.00 ± 1.00", "not run yet", "1 of 3 seeds", "-"]


def test_glyph_columns_read_as_the_glyph_table_cells(table, tmp_path):
    for seed, mean in enumerate((0.90, 0.92, 0.94)):
        _keep(tmp_path / f"maml-5w1s-s{seed}.json", mean)
    _keep(tmp_path / "anil-5w1s-s0.json", 0.9)
    _keep(tmp_path / "anil-20w1s-600x8.json", 0.95, seconds=1260.0, best=400)
    rows = _rows(table["glyph_columns"](tmp_path))
    assert rows["maml"] == ["92.00 (seed sd 2.00, 90.00–94.00; task CI ±1.00–1.00)", "not run yet"]
    assert rows["anil"] == ["not run yet", "95.00 ± 1.00 (600 × 8; best val. it. 400, 21 min training)"]


def test_main_prints_all_three_tables_of_an_empty_folder(table, tmp_path, capsys):
    assert table["main"]([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("not run yet") == 8 * 2 + 8 * 3 + 8 * 2


def test_a_missing_folder_is_a_one_line_error(table, tmp_path, capsys):
    assert table["main"]([str(tmp_path / "typo")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == f"issue12_table.py: no such folder '{tmp_path / 'typo'}'"
