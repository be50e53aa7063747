"""docs/scripts/protocol_by_lm.py: two LMs' protocol JSON side by side, paired over the tasks both finished."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def by_lm():
    return runpy.run_path(str(ROOT / "docs" / "scripts" / "protocol_by_lm.py"), run_name="by_lm")


def _write(out: Path, model: str, scores: dict[str, list[float]]) -> None:
    out.mkdir()
    n = len(next(iter(scores.values())))
    tasks = {str(t): {key: values[t] for key, values in scores.items()} for t in range(n)}
    config = {"family": "wordnet", "k": 4, "model": model, "dtype": "float32"}
    (out / "wordnet.json").write_text(json.dumps({"config": config, "tasks": tasks}))


def test_pairs_each_lm_against_its_own_knn_on_the_common_tasks(by_lm, tmp_path, capsys):
    _write(tmp_path / "small", "smollm2", {"knn@4": [0.5, 0.6, 0.7], "learned@4": [0.6, 0.7, 0.8],
                                           "zero@0": [0.25, 0.25, 0.3]})
    _write(tmp_path / "large", "gemma3", {"knn@4": [0.8, 0.9], "learned@4": [0.8, 0.92]})  # one task fewer
    table = tmp_path / "by_lm.md"
    assert by_lm["main"]([str(tmp_path / "small"), str(tmp_path / "large"), "--out", str(table)]) == 0
    text = table.read_text()
    assert "the 2 tasks every LM has finished" in text
    row = {cells[0]: cells[1:] for line in text.splitlines() if line.startswith("| ")
           for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    # smollm2: +10 on both common tasks (zero spread); gemma3: +0 and +2 -> mean +1
    assert row["learned"][1] == "10.0 ± 0.0" and row["learned"][3].startswith("1.0 ± ")
    assert row["knn"][0] == "55.0 ± 63.5" and row["knn"][1] == "-"  # task 2 (smollm2 only) is left out
    assert row["learned"][4].startswith("-9.0 ± ")  # gains -10 and -8 from smollm2 to gemma3, paired by task
    assert row["knn"][4] == "-" and row["zero"][4] == "-"
    assert row["zero"][2:4] == ["-", "-"]  # gemma3 did not score it: shown as missing, not as 0
    assert (tmp_path / "by_lm.png").stat().st_size > 0


def test_bad_input_is_refused_with_one_line(by_lm, tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        by_lm["main"]([str(tmp_path)])
    assert refused.value.code == 2 and "at least two" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        by_lm["main"]([str(tmp_path), str(tmp_path / "nowhere")])
    assert refused.value.code == 2 and "nowhere" in capsys.readouterr().err.strip().splitlines()[-1]
