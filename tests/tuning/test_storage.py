"""Storages: SQLite and journal files open and persist; unreachable ones are one-line ConfigErrors."""

from __future__ import annotations

import optuna
import pytest

from metaopt.errors import ConfigError
from metaopt.tuning import open_storage
from metaopt.tuning._storage import _redact

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("kind", ["sqlite", "journal", "log"])
def test_studies_persist_across_opens(tmp_path, kind):
    url = {"sqlite": f"sqlite:///{tmp_path}/o.db", "journal": f"journal:{tmp_path}/o.jsonl",
           "log": f"{tmp_path}/o.log"}[kind]
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    again = optuna.load_study(storage=open_storage(url), study_name="s")
    assert [t.state for t in again.trials] == [optuna.trial.TrialState.COMPLETE] * 2


def test_sqlite_storage_has_heartbeats(tmp_path):
    from optuna.storages._heartbeat import is_heartbeat_enabled

    assert is_heartbeat_enabled(open_storage(f"sqlite:///{tmp_path}/o.db", heartbeat_interval=2))


@pytest.mark.parametrize("url", ["sqlite:////no/such/dir/o.db", "journal:/no/such/dir/o.log", "nonsense",
                                 "postgresql://user:secret@127.0.0.1:1/db"])
def test_unreachable_storage_is_a_one_line_config_error(url):
    with pytest.raises(ConfigError) as err:
        open_storage(url)
    assert "\n" not in str(err.value) and "secret" not in str(err.value)


def test_password_is_redacted():
    assert _redact("postgresql://me:pw@host/db") == "postgresql://me:***@host/db"
