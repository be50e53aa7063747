"""``metaopt prompt compare --dataset / --train --test``: bad input is one line and exit 2 before any model loads;
a run with the fakes prints the rows that tables read; a real run on SmolLM2 with a template and the chat
wrapper (slow)."""

from __future__ import annotations

import json

import pytest

from metaopt.cli import main


def _exit_line(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _files(tmp_path, train_rows, test_rows, name="d"):
    tr, te = tmp_path / f"{name}-train.jsonl", tmp_path / f"{name}-test.jsonl"
    tr.write_text("".join(json.dumps(r) + "\n" for r in train_rows))
    te.write_text("".join(json.dumps(r) + "\n" for r in test_rows))
    return ["--train", str(tr), "--test", str(te)]


TWO = [{"text": f"good {i}", "label": "pos"} for i in range(4)] + \
      [{"text": f"bad {i}", "label": "neg"} for i in range(4)]


def test_bad_dataset_input_is_one_line_exit_2_before_the_lm_loads(tmp_path, capsys, lm_must_not_load, icl_root):
    base = ["prompt", "compare", "--no-track", "--data-root", str(icl_root)]
    assert "unknown" in _exit_line(capsys, base + ["--dataset", "imdb"])
    assert "--family" in _exit_line(capsys, base + ["--selectors", "knn"])
    assert "not both" in _exit_line(capsys, base + ["--dataset", "sst2", *_files(tmp_path, TWO, TWO)])
    assert "go together" in _exit_line(capsys, base + ["--train", str(tmp_path / "d-train.jsonl")])
    assert "at least 2 labels" in _exit_line(capsys, base + _files(tmp_path, TWO[:4], TWO[:4], "one"))
    missing = [{"sentence": r["text"], "label": r["label"]} for r in TWO]
    assert "no 'text' field" in _exit_line(capsys, base + _files(tmp_path, missing, missing, "cols"))
    assert "label 'maybe'" in _exit_line(capsys, base + _files(tmp_path, TWO, [{"text": "x", "label": "maybe"}], "new"))
    (tmp_path / "empty.jsonl").write_text("")
    assert "empty" in _exit_line(capsys, base + ["--train", str(tmp_path / "empty.jsonl"),
                                                 "--test", str(tmp_path / "d-test.jsonl")])
    assert "--ways" in _exit_line(capsys, base + ["--dataset", "sst2", "--ways", "3"])
    assert "--chat" in _exit_line(capsys, ["prompt", "compare", "--family", "wordnet", "--chat", "--no-track"])
    assert "{label}" in _exit_line(capsys, base + ["--dataset", "sst2", "--template", "Review: {text}"])
    assert "meta-datasets" in _exit_line(capsys, base + [*_files(tmp_path, TWO, TWO), "--selectors", "meta",
                                                         "--meta-datasets", "d-train"])
    assert "nosuch" in _exit_line(capsys, base + ["--dataset", "sst2", "--meta-datasets", "nosuch", "--selectors",
                                                  "meta"])
    assert "--shots" in _exit_line(capsys, base + ["--dataset", "sst2", "--shots", "-1"])


def test_json_rows_with_the_fakes(tmp_path, capsys, monkeypatch, fake_lm, fake_encoder):
    import types

    import prompting.encoder
    import prompting.lm

    fake_lm.name = "fake"
    monkeypatch.setattr(prompting.lm, "FrozenLM", types.SimpleNamespace(load=lambda *a, **kw: fake_lm))
    monkeypatch.setattr(prompting.encoder, "SentenceEncoder", lambda *a, **kw: fake_encoder)
    out = tmp_path / "r.json"
    argv = ["prompt", "compare", *_files(tmp_path, TWO, TWO), "--selectors", "zero,random,knn", "--shots", "2",
            "--seeds", "2", "--queries", "5", "--no-track", "--no-progress", "--json", "--out", str(out)]
    assert main(argv) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    keys = {(r["method"], r["k"]) for r in last["rows"]}
    assert keys == {("zero", 0), ("random", 2), ("knn", 2)}
    assert {"mean", "ci95", "n_tasks"} <= set(last["rows"][0]) and "per_query" not in last
    saved = json.loads(out.read_text())
    assert len(saved["per_query"]["knn@2"]) == len(saved["gold"]) == 10
    assert main(argv + ["--resume"]) == 0  # every seed already in --out: nothing to score again
    again = json.loads(out.read_text())
    assert again["per_query"] == saved["per_query"]
    with pytest.raises(SystemExit):  # another reading of the labels would mix two runs in one file
        main(argv + ["--resume", "--verbalizer", "pos=good"])
    assert "verbalizer" in capsys.readouterr().err


@pytest.mark.slow
def test_real_smollm2_with_a_template_and_the_chat_wrapper(tmp_path, capsys, icl_root):
    """SST-2 on the real SmolLM2 and MiniLM: the paper's template, then the same through the chat template."""
    base = ["prompt", "compare", "--dataset", "sst2", "--data-root", str(icl_root), "--selectors", "zero,knn",
            "--shots", "1", "--seeds", "1", "--queries", "6", "--pool", "40", "--no-track", "--no-progress", "--json"]
    assert main(base) == 0
    captured = capsys.readouterr()
    plain = json.loads(captured.out.strip().splitlines()[-1])
    assert "Loading weights" not in captured.err  # --no-progress covers transformers' bars too
    assert {r["method"] for r in plain["rows"]} == {"zero", "knn"}
    assert main(base + ["--chat"]) == 0
    chat = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {r["method"] for r in chat["rows"]} == {"zero/chat", "knn/chat"}
    assert all(0.0 <= r["mean"] <= 1.0 for r in plain["rows"] + chat["rows"])


@pytest.mark.slow
def test_real_chat_prompt_wraps_the_plain_one(real_lm, icl_root):
    from prompting.datasets import get_dataset
    from prompting.prompt import ChatFormat

    d = get_dataset("sst2", str(icl_root))
    chat = ChatFormat(d.prompt_format, real_lm.tokenizer)
    plain = d.prompt_format.build(d.labels, d.train[:2], d.test[0])
    wrapped = chat.build(d.labels, d.train[:2], d.test[0])
    assert plain in wrapped and wrapped.index(plain) > 0 and not wrapped.endswith(plain)
    assert chat.continuations(d.labels) == ["Negative", "Positive"]
    scores = real_lm.label_logprobs([wrapped], chat.continuations(d.labels))
    assert scores.shape == (1, 2) and bool(scores.isfinite().all())


def test_tracked_run_logs_params_metrics_and_the_result(tmp_path, capsys, monkeypatch, fake_lm, fake_encoder):
    import types

    import mlflow

    import prompting.encoder
    import prompting.lm

    fake_lm.name = "fake"
    monkeypatch.setattr(prompting.lm, "FrozenLM", types.SimpleNamespace(load=lambda *a, **kw: fake_lm))
    monkeypatch.setattr(prompting.encoder, "SentenceEncoder", lambda *a, **kw: fake_encoder)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert main(["prompt", "compare", *_files(tmp_path, TWO, TWO), "--selectors", "random,knn", "--shots", "2",
                 "--seeds", "2", "--queries", "4", "--tracking-uri", uri, "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = mlflow.MlflowClient(tracking_uri=uri).get_run(out["mlflow_run_id"])
    assert run.data.params["dataset"] == "d-train" and run.data.params["pool"] == "all"
    assert run.data.metrics["acc.knn.k2"] == pytest.approx(next(r["mean"] for r in out["rows"] if r["method"] == "knn"))
    assert "vs_knn.random.k2" in run.data.metrics and run.data.tags["metaopt.mode"] == "dataset"
