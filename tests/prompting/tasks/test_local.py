"""Your own labelled texts as a family: JSON Lines through get_family, and one-line errors."""

from __future__ import annotations

import json

import pytest

from metaopt.errors import ConfigError
from prompting.tasks import get_family
from prompting.tasks.local import family_from_texts


def test_jsonl_family_splits_labels_and_samples_tasks(tmp_path):
    path = tmp_path / "texts.jsonl"
    lines = [json.dumps({"text": f"text {i} of {label}", "label": label}) for label in
             ("red_wine", "beer", "tea", "coffee", "juice", "water") for i in range(6)]
    path.write_text("\n".join(lines) + "\n\n")
    family = get_family(f"jsonl:{path}")
    assert len(family.class_names) == 6 and family.verbalisers["red_wine"] == "red wine"
    splits = [set(family.classes(s)) for s in ("train", "val", "test")]
    assert sum(map(len, splits)) == 6 and not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    task = family.tasks("test", 1, 0, ways=2, pool_per_class=3, queries_per_class=2)[0]
    assert len(task.pool) == 6 and len(task.queries) == 4 and set(task.classes) <= splits[2]


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        get_family(f"jsonl:{tmp_path}/none.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: expected a JSON object"):
        get_family(f"jsonl:{bad}")
    with pytest.raises(ConfigError, match="at least 3 classes"):
        family_from_texts("two", {"a": ["x"], "b": ["y"]})
