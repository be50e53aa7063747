"""Faults and bad inputs that are not one option's value: each is one line and exit 2, and nothing is lost."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from metaopt.testing import run_cli

TINY = ["--shots", "2", "--iterations", "2", "--meta-batch", "1", "--val-every", "1", "--val-tasks", "1",
        "--test-tasks", "1", "--no-progress"]


def _one_line(code: int, err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("metaopt: error:"), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("param,needle", [
    (["--algorithm", "taml", "--param", "weight=abc"], "weight must be a finite number, got 'abc'"),
    (["--param", "inner_steps=2.5"], "inner_steps must be an integer, got 2.5"),
    (["--param", "first_order=1"], "first_order must be true/false, got 1"),
    (["--param", "inner_lr=Infinity"], "inner_lr must be a finite number, got inf"),
])
def test_wrong_typed_param(param, needle, tmp_path, capsys):
    code, _, err = run_cli(["train", *TINY, "--out", str(tmp_path / "run"), *param], capsys)
    _one_line(code, err, needle)


def test_negative_seed_writes_nothing(tmp_path, capsys):
    code, _, err = run_cli(["train", *TINY, "--out", str(tmp_path / "run"), "--seed", "-3"], capsys)
    _one_line(code, err, "-3")
    assert not (tmp_path / "run").exists()


def test_out_that_cannot_be_created(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = run_cli(["train", *TINY, "--out", str(tmp_path / "file" / "run")], capsys)
    _one_line(code, err, str(tmp_path / "file" / "run"))


def test_sizes_that_cannot_fit_are_refused_before_allocating(tmp_path, capsys):
    code, _, err = run_cli(["train", *TINY[2:], "--shots", "1000000000", "--out", str(tmp_path / "run")], capsys)
    _one_line(code, err, "shots=1000000000", "cannot fit")
    assert not (tmp_path / "run").exists()
    code, _, err = run_cli(["train", "--algorithm", "rl2", "--benchmark", "bandit", *TINY[2:], "--shots",
                            "1000000000", "--out", str(tmp_path / "rl")], capsys)
    _one_line(code, err, "shots=1000000000")


def test_too_many_fixed_tasks_are_refused(tmp_path, capsys, monkeypatch):
    assert run_cli(["train", *TINY, "--out", str(tmp_path)], capsys)[0] == 0
    import metaopt.tasks._memory as memory

    monkeypatch.setattr(memory, "physical_memory", lambda: 10_000_000)  # 10 MB: a machine too small for 1e6
    code, _, err = run_cli(["evaluate", "--checkpoint", str(tmp_path), "--tasks", "1000000", "--no-progress"], capsys)
    _one_line(code, err, "1000000 tasks", "cannot fit")


def test_corrupt_checkpoint_says_what_it_is(tmp_path, capsys):
    assert run_cli(["train", *TINY, "--out", str(tmp_path)], capsys)[0] == 0
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00garbage" * 10)
    code, _, err = run_cli(["evaluate", "--checkpoint", str(tmp_path)], capsys)
    line = _one_line(code, err, "is not a readable checkpoint", str(tmp_path / "checkpoint.pt"))
    assert "Weights only load failed" not in line


@pytest.mark.parametrize("code_,words", [(errno.ENOSPC, "no space left on device"),
                                         (errno.EROFS, "read-only file system")])
def test_checkpoint_write_fault_keeps_the_previous_one(code_, words, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    import metaopt.checkpoint as checkpoint

    real_open, writes = open, []

    def failing_open(path, mode="r", *a, **k):  # the first checkpoint is written, the second fails
        if Path(path).name.startswith("checkpoint.pt.") and str(path).endswith(".tmp") and "w" in mode:
            writes.append(path)
            if len(writes) > 1:
                real_open(path, mode, *a, **k).close()  # the temporary file exists, as on a real full disk
                raise OSError(code_, os.strerror(code_))
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr(checkpoint, "open", failing_open, raising=False)
    code, _, err = run_cli(["train", *TINY, "--out", str(out)], capsys)
    _one_line(code, err, words, "checkpoint", "previous one is kept")
    monkeypatch.undo()
    assert checkpoint.load_checkpoint(out)["trainer"]["iteration"] == 1
    assert [p.name for p in out.iterdir() if p.suffix == ".tmp"] == []


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_real_full_disk(tmp_path, capsys):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "64k"):
        pytest.skip("this machine does not allow mounting tmpfs")
    try:
        import torch

        from metaopt.checkpoint import save_checkpoint
        from metaopt.errors import ConfigError

        save_checkpoint(disk, {"w": torch.zeros(10)})
        before = (disk / "checkpoint.pt").read_bytes()
        with pytest.raises(ConfigError, match="no space left on device") as info:
            save_checkpoint(disk, {"w": torch.zeros(100_000)})  # 400 kB on a 64 kB disk
        assert "\n" not in str(info.value)
        assert (disk / "checkpoint.pt").read_bytes() == before and not (disk / "checkpoint.tmp").exists()
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_unreachable_tracking_server_fails_fast(tmp_path, capsys):
    from metaopt.tracking._server import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    code, _, err = run_cli(["train", *TINY, "--out", str(tmp_path / "run"), "--tracking-uri", uri], capsys)
    _one_line(code, err, uri)
    assert time.monotonic() - start < 60  # it used to retry for 259 s


def test_report_on_an_empty_study_writes_nothing(tmp_path, capsys):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path}/optuna.db"
    optuna.create_study(study_name="empty", storage=storage)
    out = tmp_path / "report.html"
    code, _, err = run_cli(["report", "--storage", storage, "--out", str(out), "--no-mlflow"], capsys)
    _one_line(code, err, "'empty'", "no trials")
    assert not out.exists()


def test_server_error_line():
    from metaopt.cli.ui import last_error_line

    output = ("Traceback (most recent call last):\n  File \"x.py\", line 1\nsqlalchemy.exc.DatabaseError: "
              "(sqlite3.DatabaseError) file is not a database\n\n")
    assert last_error_line(output) == "sqlalchemy.exc.DatabaseError: (sqlite3.DatabaseError) file is not a database"
    assert last_error_line("starting\nbye\n") == "bye" and last_error_line("") == ""


@pytest.mark.slow
def test_ui_shows_the_mlflow_servers_own_error(tmp_path, capsys, monkeypatch):
    from metaopt.tracking._server import free_port

    monkeypatch.chdir(tmp_path)
    # A real SQLite file (a file that is not one is refused before any server starts) whose schema MLflow
    # cannot migrate: only the server finds that out, and its own last error line is what the user sees.
    import sqlite3

    with sqlite3.connect(tmp_path / "foreign.db") as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version VALUES ('nosuchrevision')")
    db.close()
    code, _, err = run_cli(["ui", "--no-dashboard", "--port-mlflow", str(free_port()), "--tracking-uri",
                            "sqlite:///foreign.db"], capsys)
    _one_line(code, err, "mlflow server did not start", "nosuchrevision")


def test_a_tracking_store_that_is_not_a_database_is_refused_before_any_server(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not.db").write_text("this is not an SQLite database\n")
    code, _, err = run_cli(["ui", "--no-dashboard", "--port-mlflow", "1", "--tracking-uri", "sqlite:///not.db"],
                           capsys)
    _one_line(code, err, "--tracking-uri 'sqlite:///not.db'", "not an SQLite database")
    assert (tmp_path / "not.db").read_text() == "this is not an SQLite database\n"


def test_json_results_survive_a_failed_rewrite(tmp_path, monkeypatch):
    from metaopt.checkpoint import write_json
    from metaopt.errors import ConfigError

    write_json(tmp_path / "results.json", {"a": 1})
    import metaopt.checkpoint as checkpoint

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "open", full, raising=False)
    with pytest.raises(ConfigError, match="no space left on device"):
        write_json(tmp_path / "results.json", {"a": 2})
    assert json.loads((tmp_path / "results.json").read_text()) == {"a": 1}


@pytest.mark.parametrize("param", ["temperature=abc", "steps=2.5", "temperature=Infinity", "k1=true"])
def test_prompt_param_of_the_wrong_type_fails_before_loading(param, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["prompt", "compare", "--family", "wordnet", "--no-track", "--param", param], capsys)
    _one_line(code, err, f"--param {param.split('=')[0]}=")


@pytest.mark.parametrize(("param", "named"), [("rank=-1", "rank must be >= 0, got -1"),
                                              ("context=-2", "context must be >= 0, got -2"),
                                              ("num_candidates=1", "num_candidates must be >= 2, got 1")])
def test_prompt_param_out_of_range_is_named_before_the_lm_loads(param, named, tmp_path, capsys, monkeypatch,
                                                                lm_must_not_load):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["prompt", "compare", "--family", "wordnet", "--selectors", "knn,learned", "--no-track",
                            "--param", param], capsys)
    _one_line(code, err, f"learned selector: {named}")
