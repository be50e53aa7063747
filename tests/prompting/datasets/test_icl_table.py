"""docs/scripts/icl_table.py prints issue #32's tables from raw results written by compare_dataset."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from prompting.dataset_compare import DatasetCompareConfig, compare_dataset

SCRIPT = Path(__file__).resolve().parents[3] / "docs" / "scripts" / "icl_table.py"


def _script():
    spec = importlib.util.spec_from_file_location("icl_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tables_from_raw_results(tmp_path, capsys, fake_lm, fake_encoder):
    from test_dataset_compare import toy

    cfg = DatasetCompareConfig("sst2", ("zero", "random", "knn", "learned"), (4,), (0, 1), pool=20, queries=9,
                               selector_params={"steps": 5})
    result = compare_dataset(cfg, dataset=toy(), lm=fake_lm, encoder=fake_encoder)
    (tmp_path / "sst2-k4.json").write_text(json.dumps({**result.to_dict(), "model": "fake", "dtype": "float32"}))
    assert _script().main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    knn = next(r for r in result.rows if r["method"] == "knn")
    assert f"| knn | 4 | {100 * knn['mean']:.1f} ± {100 * knn['ci95']:.1f} |" in out
    learned = next(r for r in result.rows if r["method"] == "learned")
    assert f"| learned | 4 | {100 * learned['vs_knn']:+.1f}" in out
    assert "sst2 (2 x 9)" in out and "`learned` at k = 4" in out and "| sst2-k4 | fake (float32) | 2 x 9 |" in out


def test_missing_folder_is_one_line_exit_2(tmp_path, capsys):
    assert _script().main([str(tmp_path / "none")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert _script().main([str(tmp_path)]) == 2
