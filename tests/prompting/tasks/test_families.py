"""Task families on the real offline data packages, and the task sampler's guarantees."""

from __future__ import annotations

import pytest

from metaopt.errors import ConfigError, MissingDependencyError
from prompting.tasks import get_family
from prompting.tasks.fortunes import ALLOWED_TOPICS, fortunes_family
from prompting.tasks.hf import family_from_dataset
from prompting.tasks.wordnet import LEXNAMES


def _check_family(fam, ways=4, pool=6, queries=2):
    train, val, test = (set(fam.classes(s)) for s in ("train", "val", "test"))
    assert train and test and not (train & val or train & test or val & test)
    a = fam.tasks("test", 3, seed=5, ways=ways, pool_per_class=pool, queries_per_class=queries)
    b = fam.tasks("test", 3, seed=5, ways=ways, pool_per_class=pool, queries_per_class=queries)
    assert a == b and a != fam.tasks("test", 3, seed=6, ways=ways, pool_per_class=pool, queries_per_class=queries)
    for task in a:
        assert set(task.classes) <= test and len(task.classes) == ways
        assert len(set(task.verbalisers)) == ways
        assert len(task.pool) == ways * pool and len(task.queries) == ways * queries
        assert not {e.text for e in task.pool} & {e.text for e in task.queries}
        assert {e.label for e in task.pool} == set(task.classes)


def test_wordnet_supersenses():
    fam = get_family("wordnet")
    assert len(LEXNAMES) == 45 and fam.class_names == sorted(LEXNAMES)
    assert (len(fam.classes("train")), len(fam.classes("val")), len(fam.classes("test"))) == (25, 5, 15)
    assert all(": " in t for t in fam.texts["noun.animal"]) and any("mammal" in t for t in fam.texts["noun.animal"])
    assert fam.verbalisers["noun.animal"] == "animal" and fam.verbalisers["verb.motion"] == "motion"
    _check_family(fam)


def test_fortunes_uses_only_the_allow_list(tmp_path):
    fam = get_family("fortunes")
    assert set(fam.class_names) <= set(ALLOWED_TOPICS["en"]) and len(fam.class_names) >= 20
    assert "ethnic" not in fam.class_names and "men-women" not in fam.class_names
    _check_family(fam)
    with pytest.raises(MissingDependencyError, match="apt-get install fortunes"):
        fortunes_family("en", folder=tmp_path)


def test_chatterbot_topics():
    fam = get_family("chatterbot")
    assert "science" in fam.class_names and "botprofile" not in fam.class_names
    assert fam.verbalisers.get("tech_support", "tech support") == "tech support"
    _check_family(fam, pool=4, queries=2)


def test_hf_dataset_by_class_label():
    datasets = pytest.importorskip("datasets")
    names = ["world", "sports", "business", "sci_tech", "health", "arts"]
    rows = {"text": [f"{n} story {i}" for n in names for i in range(12)],
            "label": [c for c in range(len(names)) for _ in range(12)]}
    ds = datasets.Dataset.from_dict(rows, features=datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}))
    fam = family_from_dataset(ds, "toy")
    assert fam.verbalisers["sci_tech"] == "sci tech"
    _check_family(fam, ways=2, pool=4, queries=2)
    with pytest.raises(ConfigError, match="ClassLabel"):
        family_from_dataset(datasets.Dataset.from_dict({"text": ["a"], "y": [0]}), "bad")


def test_unknown_family_and_impossible_sizes():
    with pytest.raises(ConfigError, match="unknown task family"):
        get_family("tweets")
    with pytest.raises(ConfigError, match="lower --ways"):
        get_family("wordnet").sample("test", __import__("numpy").random.default_rng(0), ways=40)
