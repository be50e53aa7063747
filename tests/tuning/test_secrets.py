"""No secret in argv, logs, MLflow params or JSON: redaction, and a real PostgreSQL study with two workers
whose /proc/PID/cmdline is read while they run."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from metaopt.tuning._storage import password_to_env, public_config, redact_url


@pytest.mark.parametrize("url, shown", [
    ("postgresql://me:pw@host:5432/db", "postgresql://me:***@host:5432/db"),
    ("postgresql+psycopg://me:p%40ss@host/db", "postgresql+psycopg://me:***@host/db"),
    ("postgresql://me@host/db?password=pw&sslmode=require", "postgresql://me@host/db?password=***&sslmode=require"),
    ("sqlite:///optuna.db", "sqlite:///optuna.db"),
    ("http://user:pw@mlflow:5000", "http://user:***@mlflow:5000"),
])
def test_urls_are_redacted(url, shown):
    assert redact_url(url) == shown


def test_public_config_masks_both_urls_and_nothing_else():
    cfg = {"storage": "postgresql://me:pw@h/db", "tracking_uri": "http://u:pw@h:5000", "study": "pw"}
    assert public_config(cfg) == {"storage": "postgresql://me:***@h/db", "tracking_uri": "http://u:***@h:5000",
                                  "study": "pw"}


def test_a_dashboards_postgres_password_moves_to_its_environment():
    assert password_to_env("postgresql://me:p%40ss@h/db") == ("postgresql://me@h/db", {"PGPASSWORD": "p@ss"})
    assert password_to_env("sqlite:///o.db") == ("sqlite:///o.db", {})


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
def test_workers_get_the_postgres_password_through_a_pipe_only(tmp_path, postgres_server):
    password = postgres_server["password"]
    url = postgres_server["url"]("secrets").replace("metaopt@", f"metaopt:{password}@")
    env = {**os.environ, "METAOPT_STORAGE": url, "OMP_NUM_THREADS": "1", "METAOPT_TUNE_HEARTBEAT": "2"}
    cmd = [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
           "fomaml", "--trials", "2", "--iterations", "30", "--val-every", "10", "--val-tasks", "3",
           "--test-tasks", "5", "--study", "secret", "--workers", "2", "--sampler", "random", "--pruner", "none",
           "--no-progress", "--json"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[int, str] = {}
    folder = None
    try:
        deadline = time.monotonic() + 300
        while len(seen) < 2 and proc.poll() is None and time.monotonic() < deadline:
            for pid in _children(proc.pid):
                line = _cmdline(pid)
                if "metaopt.tuning._worker" in line:
                    seen[pid] = line
                    folder = Path(line.split()[-1])
            time.sleep(0.1)
        assert len(seen) == 2, "never saw the two worker processes"
        assert password not in _cmdline(proc.pid) and all(password not in line for line in seen.values())
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        # the configuration came through a pipe: nothing in the workers' folder holds the secret
        assert all(password not in f.read_text() for f in folder.iterdir() if f.is_file())
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert not folder.exists()  # removed at the end
    assert password not in out and password not in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["storage"] == redact_url(url) and "***" in summary["storage"]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    parent = client.get_run(summary["mlflow_parent_run_id"])
    assert "***" in parent.data.params["storage"]
    assert all(password not in v for v in parent.data.params.values())


def _worker_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and "metaopt.tuning._worker" in _cmdline(int(e.name))]


@pytest.mark.slow
def test_workers_outliving_a_killed_parent_finish_and_remove_its_folder(tmp_path):
    import optuna

    storage = f"sqlite:///{tmp_path}/optuna.db"
    cmd = [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
           "fomaml", "--trials", "3", "--iterations", "40", "--val-every", "10", "--val-tasks", "3",
           "--test-tasks", "5", "--study", "orphans", "--storage", storage, "--tracking-uri",
           f"sqlite:///{tmp_path}/mlflow.db", "--workers", "2", "--sampler", "random", "--pruner", "none",
           "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    before = set(_worker_pids())
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers, folder = [], None
    deadline = time.monotonic() + 300
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [p for p in _children(proc.pid) if "metaopt.tuning._worker" in _cmdline(p)]
        time.sleep(0.1)
    assert len(workers) == 2, "never saw the two worker processes"
    folder = Path(_cmdline(workers[0]).split()[-1])
    proc.kill()  # SIGKILL: the parent cannot clean anything up
    proc.wait()
    while set(_worker_pids()) - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not set(_worker_pids()) - before, "the orphaned workers did not finish"
    assert not folder.exists(), f"{folder} left behind: {sorted(p.name for p in folder.iterdir())}"
    trials = optuna.load_study(study_name="orphans", storage=storage).trials
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) >= 3  # the workers finished the budget
