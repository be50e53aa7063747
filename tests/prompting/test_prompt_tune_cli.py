"""``metaopt prompt tune``: bad input exits 2 with one line; the same command again resumes the study (fakes);
a tiny study on the real SmolLM2 + MiniLM."""

from __future__ import annotations

import json

import pytest

from metaopt.cli import main
from metaopt.testing import run_cli


def _exit_line(capsys, argv):
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_input_is_one_line_exit_2(capsys, tmp_path):
    db = f"sqlite:///{tmp_path}/optuna.db"
    assert "'knn'" in _exit_line(capsys, ["prompt", "tune", "--family", "wordnet", "--selector", "knn",
                                          "--trials", "2"])
    assert "'tweets'" in _exit_line(capsys, ["prompt", "tune", "--family", "tweets", "--trials", "2", "--storage", db])
    assert not (tmp_path / "optuna.db").exists()  # an unknown family leaves no database behind
    assert "--trials: expected a positive integer, got 0" in _exit_line(
        capsys, ["prompt", "tune", "--family", "wordnet", "--trials", "0"])
    assert "--trials N" in _exit_line(capsys, ["prompt", "tune", "--family", "wordnet"])
    assert "cannot open storage" in _exit_line(capsys, ["prompt", "tune", "--family", "wordnet", "--trials", "2",
                                                        "--storage", f"sqlite:///{tmp_path}/no/such/dir/o.db"])
    assert "/nowhere/m.gguf" in _exit_line(capsys, ["prompt", "tune", "--family", "chatterbot", "--trials", "2",
                                                    "--storage", db, "--model", "/nowhere/m.gguf"])


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["prompt", "tune", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "metaopt prompt tune --family wordnet --selector learned" in out


def test_same_command_again_resumes(capsys, tmp_path, monkeypatch, family, fake_lm, fake_encoder):
    import prompting.encoder
    import prompting.lm
    import prompting.tasks

    fake_lm.name = "fake"
    monkeypatch.setattr(prompting.lm.FrozenLM, "load", classmethod(lambda cls, *a, **kw: fake_lm))
    monkeypatch.setattr(prompting.encoder, "SentenceEncoder", lambda *a, **kw: fake_encoder)
    monkeypatch.setattr(prompting.tasks, "get_family", lambda name: family)
    argv = ["prompt", "tune", "--family", "synthetic", "--trials", "2", "--ways", "2", "--pool", "4", "--queries",
            "1", "--tasks", "1", "--test-tasks", "2", "--param", "steps=3", "--param", "train_queries=2",
            "--storage", f"sqlite:///{tmp_path}/optuna.db", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
            "--no-progress", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    first = json.loads(out[-1])
    assert first["trials"] == 2 and first["study"] == "prompt-synthetic-learned" and first["model"] == "fake (float32)"
    assert any(line.startswith("test accuracy:") for line in out) and any("defaults" in line for line in out)
    assert any(line.startswith(f"knn (k={first['params']['k']}): ") and "best vs knn" in line for line in out)
    main(argv)  # the budget is spent: nothing new runs, the stored test score is reported again
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["trials"] == 2 and again["test_mean"] == first["test_mean"]
    main([*argv[:4], "--trials", "3", *argv[6:]])
    more = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert more["trials"] == 3 and more["mlflow_parent_run_id"] == first["mlflow_parent_run_id"]
    assert "ways=2, not 3" in _exit_line(capsys, [*argv[:6], "--ways", "3", *argv[8:]])


@pytest.mark.slow
def test_real_tiny_study(tmp_path, capsys):
    main(["prompt", "tune", "--family", "chatterbot", "--selector", "learned", "--trials", "2", "--tasks", "1",
          "--test-tasks", "1", "--ways", "2", "--pool", "2", "--queries", "1", "--param", "k=1", "--param",
          "num_candidates=2", "--param", "train_queries=1", "--param", "steps=3",
          "--storage", f"sqlite:///{tmp_path}/optuna.db", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
          "--no-progress", "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["states"]["complete"] == 2 and summary["model"].startswith("smollm2")
    assert summary["params"]["k"] == 1 and 0.0 < summary["params"]["temperature"] <= 1.0
    assert 0 <= summary["best_val"] <= 1 and 0 <= summary["test_mean"] <= 1 and summary["test_tasks"] == 1
    assert summary["knn_params"] == "k=1" and 0 <= summary["knn_test_mean"] <= 1  # kNN on the real LM too
    assert summary["vs_knn_mean"] == summary["test_mean"] - summary["knn_test_mean"]
