"""Outputs never replace what is not theirs (issue #33): every user-named output goes through one check,
refusing in one line (exit 2) a file that is a database, a checkpoint, a store of the same command or any
other file the command did not write, and a path under a missing folder; nothing is created or changed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from metaopt.testing import run_cli

optuna.logging.set_verbosity(optuna.logging.ERROR)

TINY = ["--shots", "2", "--iterations", "2", "--meta-batch", "1", "--val-every", "1", "--val-tasks", "1",
        "--test-tasks", "1", "--no-progress"]
MISSING_ROOT = Path("/nonexistent-metaopt-test")  # a top-level folder that must never be created


def _study(path: Path) -> str:
    storage = f"sqlite:///{path}"
    study = optuna.create_study(storage=storage, study_name="s", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    return storage


def _checkpoint_like(path: Path) -> None:
    import torch

    torch.save({"w": torch.zeros(3)}, path)


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with its content's hash: the test's 'nothing changed'."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def _refused(code: int, err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("metaopt: error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A working folder holding a study database, another SQLite file, a checkpoint, notes, a journal, a
    folder; the MLflow store named in the commands (m.db) does not exist yet."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("METAOPT_STORAGE", raising=False)
    _study(tmp_path / "s.db")
    _study(tmp_path / "other.db")
    _checkpoint_like(tmp_path / "checkpoint.pt")
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "notes.json").write_text(json.dumps({"mine": [1, 2]}))
    (tmp_path / "folder").mkdir()
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j.log")))
    optuna.create_study(storage=storage, study_name="j").optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert not MISSING_ROOT.exists(), f"{MISSING_ROOT} is left from an earlier run: remove it"
    yield tmp_path
    if MISSING_ROOT.exists():  # a regression made it: remove it, so that it fails this test and no other
        import shutil

        shutil.rmtree(MISSING_ROOT)


REPORT = ["report", "--storage", "sqlite:///s.db", "--tracking-uri", "sqlite:///m.db"]
NO_MLFLOW = ["report", "--storage", "sqlite:///s.db", "--no-mlflow"]

# (arguments, words the one line must hold)
CASES = [
    pytest.param([*REPORT, "--out", "s.db"], ["--out s.db", "--storage sqlite:///s.db"], id="report-over-its-storage"),
    pytest.param([*NO_MLFLOW, "--out", "./s.db"], ["--out ./s.db", "--storage"], id="report-over-storage-respelled"),
    pytest.param([*NO_MLFLOW, "--out", "other.db"], ["--out other.db", "SQLite database"], id="report-over-a-db"),
    pytest.param([*NO_MLFLOW, "--out", "checkpoint.pt"], ["--out checkpoint.pt", "checkpoint"],
                 id="report-over-a-checkpoint"),
    pytest.param([*NO_MLFLOW, "--out", "notes.txt"], ["--out notes.txt", "not a report"], id="report-over-notes"),
    pytest.param([*REPORT, "--out", "m.db"], ["--out m.db", "--tracking-uri sqlite:///m.db"],
                 id="report-over-its-tracking-store-to-be"),
    pytest.param(["report", "--storage", "journal:j.log", "--no-mlflow", "--out", "j.log"], ["--out j.log", "journal"],
                 id="report-over-its-journal"),
    pytest.param([*NO_MLFLOW, "--out", "folder"], ["--out folder", "is a folder"], id="report-into-a-folder"),
    pytest.param([*NO_MLFLOW, "--out", "/dev/null"], ["--out /dev/null", "not a regular file"],
                 id="report-to-a-device"),
    pytest.param([*NO_MLFLOW, "--out", f"{MISSING_ROOT}/x/report.html"], [f"{MISSING_ROOT}/x", "does not exist"],
                 id="report-under-a-missing-root"),
    pytest.param([*NO_MLFLOW, "--out", "missing/report.html"], ["missing", "does not exist"],
                 id="report-under-a-missing-folder"),
    pytest.param(["report", "--storage", "sqlite:///s.db", "--tracking-uri", f"sqlite:///{MISSING_ROOT}/dir/m.db",
                  "--out", "r.html"], [f"{MISSING_ROOT}/dir", "does not exist"], id="tracking-under-a-missing-root"),
    pytest.param(["report", "--storage", "sqlite:///s.db", "--tracking-uri", "sqlite:///notes.txt", "--out", "r.html"],
                 ["notes.txt", "not an SQLite database"], id="tracking-store-that-is-notes"),
    pytest.param(["report", "--storage", "sqlite:///s.db", "--tracking-uri", "sqlite:///s.db", "--out", "r.html"],
                 ["sqlite:///s.db", "--storage"], id="tracking-store-that-is-the-study"),
    pytest.param(["tune", "--benchmark", "sinusoid", "--trials", "1", "--storage", "sqlite:///t.db", "--tracking-uri",
                  "sqlite:///./t.db"], ["--tracking-uri", "--storage"], id="tune-tracking-is-its-storage"),
    pytest.param(["train", *TINY, "--out", "run", "--scores", "other.db"], ["--scores other.db", "SQLite database"],
                 id="scores-over-a-db"),
    pytest.param(["train", *TINY, "--out", "run", "--scores", "notes.json"], ["--scores notes.json", "JSON"],
                 id="scores-over-other-json"),
    pytest.param(["train", *TINY, "--out", "run", "--scores", "run/config.json"], ["run/config.json", "--out"],
                 id="scores-over-the-runs-own-file"),
    pytest.param(["train", *TINY, "--out", "run", "--track", "--tracking-uri", "sqlite:///m.db", "--scores", "m.db"],
                 ["--scores m.db", "--tracking-uri"], id="scores-over-the-tracking-store-to-be"),
    pytest.param(["train", *TINY, "--out", "run", "--scores", f"{MISSING_ROOT}/s.json"], [str(MISSING_ROOT)],
                 id="scores-under-a-missing-root"),
    pytest.param(["train", *TINY, "--out", f"{MISSING_ROOT}/x/run"], [str(MISSING_ROOT), "does not exist"],
                 id="run-under-a-missing-root"),
    pytest.param(["train", *TINY, "--out", "folder/../."], ["is a folder of other files"], id="run-in-a-busy-folder"),
    pytest.param(["train", *TINY, "--out", "run", "--track", "--tracking-uri", f"sqlite:///{MISSING_ROOT}/d/m.db"],
                 [str(MISSING_ROOT), "does not exist"], id="train-tracking-under-a-missing-root"),
]


@pytest.mark.parametrize("args,needles", CASES)
def test_refused_in_one_line_and_nothing_changes(args, needles, place, capsys):
    before = _snapshot(place)
    code, _, err = run_cli(args, capsys)
    _refused(code, err, *needles)
    assert _snapshot(place) == before  # byte-identical, nothing created (not even a temporary file)
    assert not MISSING_ROOT.exists()


def test_the_damage_of_issue_33_in_a_real_process(place):
    """The reported command itself, as a user runs it: the study database survives, byte for byte."""
    before = (place / "s.db").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "metaopt", "report", "--storage", "sqlite:///s.db", "--out", "s.db"],
                          cwd=place, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{place / 'm.db'}"})
    _refused(proc.returncode, proc.stderr, "--out s.db", "--storage")
    assert (place / "s.db").read_bytes() == before
    assert optuna.load_study(study_name="s", storage="sqlite:///s.db").trials  # still a study


def test_a_commands_own_outputs_are_replaced(place, capsys):
    """The check does not refuse everything: a report over a report, scores over scores, an empty file."""
    (place / "empty.html").write_bytes(b"")
    for out in ("r.html", "r.html", "empty.html"):
        code, _, err = run_cli([*NO_MLFLOW, "--out", out], capsys)
        assert code == 0, err
        assert (place / out).read_bytes().startswith(b"<!DOCTYPE html>")
    for _ in range(2):
        code, _, err = run_cli(["train", *TINY, "--out", "run", "--scores", "scores.json"], capsys)
        assert code == 0, err
        assert "per_task" in json.loads((place / "scores.json").read_text())
    code, _, err = run_cli(["evaluate", "--checkpoint", "run", "--tasks", "2", "--no-progress", "--scores",
                            "scores.json"], capsys)
    assert code == 0, err
    assert len(json.loads((place / "scores.json").read_text())["per_task"]) == 2
    assert [p.name for p in place.rglob("*.tmp")] == []


def test_evaluate_never_writes_scores_over_the_run(place, capsys):
    assert run_cli(["train", *TINY, "--out", "run"], capsys)[0] == 0
    for name in ("config.json", "checkpoint.pt", "results.json"):
        before = _snapshot(place)
        code, _, err = run_cli(["evaluate", "--checkpoint", "run", "--tasks", "1", "--no-progress", "--scores",
                                f"run/{name}"], capsys)
        _refused(code, err, f"--scores run/{name}")
        assert _snapshot(place) == before


def test_overwrite_deletes_only_a_run(place, capsys):
    assert run_cli(["train", *TINY, "--out", "run"], capsys)[0] == 0
    (place / "run" / "my-notes.txt").write_text("keep me")
    before = _snapshot(place)
    code, _, err = run_cli(["train", *TINY, "--seed", "1", "--out", "run", "--overwrite"], capsys)
    _refused(code, err, "--out run", "my-notes.txt", "--overwrite")
    assert _snapshot(place) == before
    (place / "run" / "my-notes.txt").unlink()
    code, _, err = run_cli(["train", *TINY, "--seed", "1", "--out", "run", "--overwrite"], capsys)
    assert code == 0, err


def test_runs_are_still_made_with_their_parents_under_the_working_folder(place, capsys):
    code, _, err = run_cli(["train", *TINY, "--out", "runs/a/b", "--scores", "runs/a/b/scores.json"], capsys)
    assert code == 0, err
    assert (place / "runs" / "a" / "b" / "checkpoint.pt").is_file()
    assert "per_task" in json.loads((place / "runs" / "a" / "b" / "scores.json").read_text())


def test_a_store_file_is_found_behind_each_uri_spelling(tmp_path):
    from metaopt.tracking._uri import local_store_path

    assert local_store_path("sqlite:///rel.db") == Path("rel.db")
    assert local_store_path("sqlite:////abs/x.db") == Path("/abs/x.db")
    assert local_store_path("sqlite+pysqlite:///a.db?timeout=5") == Path("a.db")
    assert local_store_path("journal:j.log") == Path("j.log")
    assert local_store_path("file:///tmp/mlruns") == Path("/tmp/mlruns")
    assert local_store_path("mlruns") == Path("mlruns")
    assert local_store_path("sqlite://") is None and local_store_path("http://h:5000") is None
    assert local_store_path("postgresql://u:p@h/db") is None
