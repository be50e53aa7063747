"""A resumed study keeps its --iterations and --algorithms (issue #33): another value is refused in one line
naming the old and the new, before anything is written; the same command resumes as before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import optuna
import pytest

from metaopt.testing import run_cli

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _tune(*extra: str) -> list[str]:
    args = {"--benchmark": "sinusoid", "--shots": "2", "--algorithms": "fomaml", "--trials": "1",
            "--iterations": "2", "--val-every": "1", "--val-tasks": "1", "--test-tasks": "1", "--study": "keep",
            "--storage": "sqlite:///optuna.db", "--tracking-uri": "sqlite:///mlflow.db", "--sampler": "random",
            "--pruner": "none"}
    for flag, value in zip(extra[::2], extra[1::2]):
        args[flag] = value
    return ["tune", *[x for kv in args.items() for x in kv], "--no-progress"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def study_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("METAOPT_STORAGE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, _, err = run_cli(_tune(), capsys)
    assert code == 0, err
    return tmp_path


@pytest.mark.parametrize("extra, old, new", [
    (["--iterations", "3"], "--iterations 2", "not 3"),
    (["--algorithms", "maml"], "--algorithms fomaml", "not maml"),
    (["--algorithms", "fomaml,maml"], "--algorithms fomaml", "not fomaml,maml"),
])
def test_a_changed_option_is_refused_naming_both_values(study_dir, capsys, extra, old, new):
    before = {p.name: _digest(p) for p in study_dir.glob("*.db")}
    code, _, err = run_cli(_tune(*extra, "--trials", "2"), capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert old in lines[0] and new in lines[0] and "'keep'" in lines[0], lines[0]
    assert {p.name: _digest(p) for p in study_dir.glob("*.db")} == before  # nothing written, MLflow's store too
    assert len(optuna.load_study(study_name="keep", storage="sqlite:///optuna.db").trials) == 1


def test_the_same_command_resumes(study_dir, capsys):
    code, _, err = run_cli(_tune("--trials", "2"), capsys)
    assert code == 0, err
    study = optuna.load_study(study_name="keep", storage="sqlite:///optuna.db")
    assert len(study.trials) == 2
    assert study.user_attrs["iterations"] == 2 and study.user_attrs["algorithms"] == "fomaml"


def test_a_study_from_before_the_options_were_kept_resumes_and_keeps_them(study_dir, capsys):
    storage = optuna.storages.RDBStorage("sqlite:///optuna.db")
    study_id = storage.get_study_id_from_name("keep")
    # what an older metaopt left: no record of the iterations or algorithms (Optuna cannot delete an attr,
    # so the rows go the way SQL removes them)
    import sqlalchemy

    engine = sqlalchemy.create_engine("sqlite:///optuna.db")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM study_user_attributes WHERE study_id = :s AND key IN "
                                     "('iterations', 'algorithms')"), {"s": study_id})
    engine.dispose()
    assert "iterations" not in optuna.load_study(study_name="keep", storage="sqlite:///optuna.db").user_attrs
    code, _, err = run_cli(_tune("--trials", "2", "--iterations", "3"), capsys)
    assert code == 0, err
    assert optuna.load_study(study_name="keep", storage="sqlite:///optuna.db").user_attrs["iterations"] == 3
    code, _, err = run_cli(_tune("--trials", "3", "--iterations", "2"), capsys)
    assert code == 2 and "--iterations 3" in err and "not 2" in err, err
