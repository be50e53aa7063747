"""docs/scripts/selector_dev_check.py on fakes: kNN and each variant scored on the same development tasks."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("selector", ["learned", "meta"])
def test_dev_check_scores_knn_and_each_variant_per_task(selector, tmp_path, monkeypatch, family, fake_lm,
                                                        fake_encoder, capsys):
    import prompting.encoder
    import prompting.lm
    import prompting.tasks

    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    monkeypatch.setattr(prompting.lm.FrozenLM, "load", classmethod(lambda cls, name=None: fake_lm))
    monkeypatch.setattr(prompting.encoder, "SentenceEncoder", lambda: fake_encoder)
    script = runpy.run_path(str(ROOT / "docs" / "scripts" / "selector_dev_check.py"), run_name="dev_check")
    out = tmp_path / "dev.json"
    variants = ['{"steps": 10, "train_queries": 4}', '{"steps": 0}']
    if selector == "meta":
        variants = [v[:-1] + ', "meta_tasks": 2}' for v in variants]
    argv = ["--selector", selector, "--split", "val", "--tasks", "2", "--ways", "2", "--pool", "6", "--out", str(out)]
    for v in variants:
        argv += ["--variant", v]
    assert script["main"](argv) == 0
    result = json.loads(out.read_text())
    assert len(result["tasks"]) == 2 and result["selector"] == selector
    keys = {"knn", *(json.dumps(json.loads(v)) for v in variants)}
    assert set(result["mean_accuracy"]) == keys
    for row in result["tasks"]:
        untrained = row[json.dumps(json.loads(variants[1]))]
        assert untrained["steps"] == 0 and untrained["prototype_weight"] == 0.0
        assert untrained["accuracy"] == row["knn"]["accuracy"]  # 0 steps is kNN itself
    with pytest.raises(SystemExit) as refused:  # argparse's usage error: exit 2, one line naming the fix
        script["main"](["--selector", "meta", "--split", "train", "--out", str(out)])
    assert refused.value.code == 2 and "check it on --split val" in capsys.readouterr().err


def test_report_reprints_the_table_of_a_finished_check(tmp_path, capsys):
    script = runpy.run_path(str(ROOT / "docs" / "scripts" / "selector_dev_check.py"), run_name="dev_check")
    rows = [{"task": t, "knn": {"accuracy": a, "same_label": 0.5}, "{}": {"accuracy": b, "same_label": 0.75}}
            for t, (a, b) in enumerate([(0.5, 0.75), (0.75, 0.75), (0.5, 0.5)])]
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"family": "f", "split": "val", "selector": "learned", "k": 4,
                                "queries_per_class": 2, "tasks": rows, "mean_accuracy": {}}))
    assert script["main"](["--report", str(path)]) == 0
    text = capsys.readouterr().out
    assert "| knn | - | 58.3 ± 35.9 | - | - | 50 |" in text
    assert "| learned | `{}` | 66.7 ± 35.9 | 8.3 ± 35.9 | 3/3 | 75 |" in text


@pytest.mark.parametrize(("variant", "named"), [('{"rank": -1}', "rank must be >= 0, got -1"),
                                                ("{rank", "Expecting property name"),
                                                ("[1]", "[1] is not a JSON object")])
def test_a_bad_variant_is_refused_before_the_lm_loads(variant, named, tmp_path, capsys, lm_must_not_load):
    script = runpy.run_path(str(ROOT / "docs" / "scripts" / "selector_dev_check.py"), run_name="dev_check")
    with pytest.raises(SystemExit) as exit_:
        script["main"](["--variant", variant, "--out", str(tmp_path / "dev.json")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2 and "error: --variant" in err and named in err
