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


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_storages_have_heartbeats(tmp_path, kind):
    from optuna.storages._heartbeat import is_heartbeat_enabled

    url = f"sqlite:///{tmp_path}/o.db" if kind == "sqlite" else f"journal:{tmp_path}/o.log"
    assert is_heartbeat_enabled(open_storage(url, heartbeat_interval=2))


def test_journal_trial_without_a_recent_heartbeat_is_failed_and_retried(tmp_path):
    import time

    from metaopt.tuning import recover_dead_trials
    from metaopt.tuning._journal import HEARTBEAT_ATTR

    url = f"journal:{tmp_path}/o.log"
    study = optuna.create_study(storage=open_storage(url, heartbeat_interval=1, grace_period=5), study_name="s")
    alive, dead, fresh = study.ask(), study.ask(), study.ask()
    for trial in (alive, dead, fresh):
        trial.suggest_float("x", 0, 1)
    storage = study._storage
    storage.record_heartbeat(alive._trial_id)  # beat just now
    storage.set_trial_system_attr(dead._trial_id, HEARTBEAT_ATTR, time.time() - 60)  # its worker died a minute ago
    # ``fresh`` has not beaten yet (just asked for): not stale.

    # Another process opening the same journal sees the dead worker's trial and fails it.
    other = optuna.load_study(storage=open_storage(url, heartbeat_interval=1, grace_period=5), study_name="s")
    assert recover_dead_trials(other) == [dead.number]
    states = {t.number: t.state for t in other.get_trials(deepcopy=False)}
    assert states[dead.number] == optuna.trial.TrialState.FAIL
    assert states[alive.number] == states[fresh.number] == optuna.trial.TrialState.RUNNING
    retry = [t for t in other.trials if t.state == optuna.trial.TrialState.WAITING]
    assert len(retry) == 1 and retry[0].params == dead.params


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_trial_orphaned_before_its_first_heartbeat_is_failed_and_retried(tmp_path, kind):
    """Seen when PostgreSQL was killed as a trial was created: no heartbeat, no worker, RUNNING for ever."""
    import datetime

    from optuna.distributions import FloatDistribution
    from optuna.trial import FrozenTrial, TrialState

    from metaopt.tuning import recover_dead_trials

    url = f"sqlite:///{tmp_path}/o.db" if kind == "sqlite" else f"journal:{tmp_path}/o.log"
    study = optuna.create_study(storage=open_storage(url, heartbeat_interval=1, grace_period=3), study_name="s")
    storage = study._storage

    def running(age: float, worker: str | None) -> int:
        frozen = FrozenTrial(number=0, state=TrialState.RUNNING, value=None, values=None,
                             datetime_start=datetime.datetime.now() - datetime.timedelta(seconds=age),
                             datetime_complete=None, params={"x": 0.5},
                             distributions={"x": FloatDistribution(0, 1)}, user_attrs={} if worker is None
                             else {"worker": worker}, system_attrs={}, intermediate_values={}, trial_id=0)
        return storage.get_trial_number_from_id(storage.create_new_trial(study._study_id, template_trial=frozen))

    orphan = running(60, None)           # created a minute ago, never claimed by a worker
    young = running(1, None)             # just created: its worker is about to claim it
    owned = running(60, "elsewhere:1")   # a worker on another host owns it (its heartbeat decides)
    assert recover_dead_trials(study) == [orphan]
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states[orphan] == TrialState.FAIL
    assert states[young] == states[owned] == TrialState.RUNNING
    retry = [t for t in study.trials if t.state == TrialState.WAITING]
    assert len(retry) == 1 and retry[0].params == {"x": 0.5}


@pytest.mark.parametrize("url", ["sqlite:////no/such/dir/o.db", "journal:/no/such/dir/o.log", "nonsense",
                                 "postgresql://user:secret@127.0.0.1:1/db"])
def test_unreachable_storage_is_a_one_line_config_error(url):
    with pytest.raises(ConfigError) as err:
        open_storage(url)
    assert "\n" not in str(err.value) and "secret" not in str(err.value)


def test_password_is_redacted():
    assert _redact("postgresql://me:pw@host/db") == "postgresql://me:***@host/db"
