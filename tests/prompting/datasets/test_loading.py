"""Fixed-label datasets: each file format, each shipped set, text pairs, templates and bad input."""

from __future__ import annotations

import json

import pytest

from metaopt.errors import ConfigError
from prompting.datasets import STANDARD, dataset_from_files, get_dataset, parse_verbalizer
from prompting.prompt import PromptFormat


@pytest.mark.parametrize("name,n_labels,n_train,n_test", [("sst2", 2, 6920, 1821), ("agnews", 4, 6000, 1600),
                                                          ("trec", 6, 5452, 500), ("rte", 2, 2490, 277)])
def test_each_standard_set_loads_with_its_labels_and_template(icl_root, name, n_labels, n_train, n_test):
    d = get_dataset(name, str(icl_root))
    assert (len(d.classes), len(d.train), len(d.test)) == (n_labels, n_train, n_test)
    assert {e.label for e in d.test} <= set(d.classes)
    task = d.task(0, pool=8, queries=5)
    prompt = task.prompt_format.build(d.labels, task.pool[:2], task.queries[0])
    assert task.queries[0].parts or task.queries[0].text in prompt
    assert set(task.pool) <= set(d.train) and set(task.queries) <= set(d.test)
    assert name in STANDARD


def test_zhao_templates_as_the_paper_writes_them(icl_root):
    sst2 = get_dataset("sst2", str(icl_root))
    demo = sst2.train[0]
    prompt = sst2.prompt_format.build(sst2.labels, [demo], "a fine film")
    assert prompt == f"Review: {demo.text}\nSentiment: Positive\n\nReview: a fine film\nSentiment:"
    assert sst2.prompt_format.continuations(sst2.labels) == [" Negative", " Positive"]
    rte = get_dataset("rte", str(icl_root))
    q = rte.test[0]
    assert rte.prompt_format.build(rte.labels, [], q) == f"{q.parts[0]}\nquestion: {q.parts[1]} True or False?\nanswer:"
    assert rte.labels == {"not_entailment": "False", "entailment": "True"}
    trec = get_dataset("trec", str(icl_root))
    assert trec.verbalisers == ("Number", "Location", "Person", "Description", "Entity", "Ab")


def test_agnews_pool_and_queries_never_meet(icl_root):
    d = get_dataset("agnews", str(icl_root))
    assert not {e.text for e in d.train} & {e.text for e in d.test}


def test_a_seed_draws_the_same_task_and_different_seeds_differ(icl_root):
    d = get_dataset("sst2", str(icl_root))
    assert d.task(3, pool=16, queries=10) == d.task(3, pool=16, queries=10)
    assert d.task(3, pool=16, queries=10).queries != d.task(4, pool=16, queries=10).queries
    assert len(d.task(0).pool) == len(d.train) and len(d.task(0).queries) == 300
    picks, asked = d.draw(3, pool=16, queries=10)
    assert [d.test[i] for i in asked] == list(d.task(3, pool=16, queries=10).queries)


def _write(path, rows, kind):
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        sep = "," if kind == "csv" else "\t"
        keys = list(rows[0])
        path.write_text(sep.join(keys) + "\n" + "".join(sep.join(str(r[k]) for k in keys) + "\n" for r in rows))


@pytest.mark.parametrize("kind", ["jsonl", "csv", "tsv"])
def test_user_files_in_each_format_with_two_labels(tmp_path, kind):
    rows = [{"text": f"good film {i}", "label": "pos"} for i in range(3)] + \
           [{"text": f"bad film {i}", "label": "neg"} for i in range(3)]
    _write(tmp_path / f"train.{kind}", rows, kind)
    _write(tmp_path / f"test.{kind}", rows[:2] + rows[-1:], kind)
    d = dataset_from_files(tmp_path / f"train.{kind}", tmp_path / f"test.{kind}", verbalizer={"pos": "positive"})
    assert d.classes == ("neg", "pos") and d.verbalisers == ("neg", "positive")
    assert len(d.train) == 6 and len(d.test) == 3
    assert d.prompt_format.build(d.labels, d.train[:1], d.test[0]) == \
        "Text: good film 0\nLabel: positive\n\nText: good film 0\nLabel:"


def test_text_pairs_fill_the_template_fields_in_order(tmp_path):
    rows = [{"p": f"premise {i}", "h": f"hypothesis {i}", "y": ["yes", "no"][i % 2]} for i in range(4)]
    _write(tmp_path / "tr.jsonl", rows, "jsonl")
    _write(tmp_path / "te.jsonl", rows, "jsonl")
    d = dataset_from_files(tmp_path / "tr.jsonl", tmp_path / "te.jsonl", text_field="p,h", label_field="y",
                           template="{p}\nQ: {h}?\nA: {label}")
    assert d.train[0].parts == ("premise 0", "hypothesis 0") and d.train[0].text == "premise 0 hypothesis 0"
    assert d.prompt_format.build(d.labels, d.train[1:2], d.test[0]) == \
        "premise 1\nQ: hypothesis 1?\nA: no\n\npremise 0\nQ: hypothesis 0?\nA:"
    default = dataset_from_files(tmp_path / "tr.jsonl", tmp_path / "te.jsonl", text_field="p,h", label_field="y")
    assert default.prompt_format.build(default.labels, [], default.test[0]) == "p: premise 0\nh: hypothesis 0\nLabel:"


def test_a_template_without_a_trailing_space_scores_labels_without_one():
    fmt = PromptFormat("Q: {text}\nA:{label}")
    assert fmt.continuations({"a": "yes"}) == ["yes"] and fmt.build({"a": "yes"}, [], "x") == "Q: x\nA:"


@pytest.mark.parametrize("rows_train,rows_test,kwargs,match", [
    ([{"text": "a", "label": "x"}] * 3, [{"text": "a", "label": "x"}], {}, "at least 2 labels"),
    ([{"txt": "a", "label": "x"}], [{"txt": "a", "label": "x"}], {}, "no 'text' field"),
    ([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}], [{"text": "c", "label": "z"}], {},
     "label 'z' of the test split"),
    ([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}], [{"text": "c", "label": "x"}],
     {"template": "Text: {text}"}, "must end with {label}"),
    ([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}], [{"text": "c", "label": "x"}],
     {"verbalizer": {"x": "same", "y": "same"}}, "share the label word"),
    ([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}], [{"text": "c", "label": "x"}],
     {"verbalizer": {"q": "w"}}, "label 'q' is not in"),
])
def test_bad_files_are_one_clear_error(tmp_path, rows_train, rows_test, kwargs, match):
    _write(tmp_path / "tr.jsonl", rows_train, "jsonl")
    _write(tmp_path / "te.jsonl", rows_test, "jsonl")
    with pytest.raises(ConfigError, match=match):
        dataset_from_files(tmp_path / "tr.jsonl", tmp_path / "te.jsonl", **kwargs)


def test_empty_missing_and_wrong_kind_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "ok.jsonl").write_text('{"text": "a", "label": "x"}\n')
    with pytest.raises(ConfigError, match="empty"):
        dataset_from_files(tmp_path / "empty.jsonl", tmp_path / "ok.jsonl")
    with pytest.raises(ConfigError, match="no such file"):
        dataset_from_files(tmp_path / "missing.jsonl", tmp_path / "ok.jsonl")
    with pytest.raises(ConfigError, match=r"\.jsonl, \.csv or \.tsv"):
        dataset_from_files(tmp_path / "data.parquet", tmp_path / "ok.jsonl")
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(ConfigError, match="bad.jsonl:1: not JSON"):
        dataset_from_files(tmp_path / "bad.jsonl", tmp_path / "ok.jsonl")


def test_unknown_dataset_and_missing_root(tmp_path):
    with pytest.raises(ConfigError, match="unknown"):
        get_dataset("imdb", str(tmp_path))
    with pytest.raises(ConfigError, match="--data-root"):
        get_dataset("sst2", str(tmp_path))


def test_verbalizer_parsing():
    assert parse_verbalizer("0=negative, 1=positive") == {"0": "negative", "1": "positive"}
    with pytest.raises(ConfigError, match="label=word"):
        parse_verbalizer("0:negative")


def test_hf_names_read_a_local_folder_through_datasets(tmp_path, monkeypatch):
    """The `hf:` path on the real `datasets` library, offline: a folder of JSON Lines files named by split."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    folder = tmp_path / "reviews"
    folder.mkdir()
    for split, n in (("train", 6), ("test", 4)):
        rows = [{"text": f"{split} review {i}", "label": ["not_good", "good"][i % 2]} for i in range(n)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    d = get_dataset(f"hf:{folder}")
    assert d.classes == ("good", "not_good") and d.verbalisers == ("good", "not good")
    assert len(d.train) == 6 and len(d.test) == 4 and d.test[1].label == "good"
