"""Trials whose worker died: fail them, retry them, and close their MLflow runs as KILLED.

A worker killed with SIGKILL cannot end anything. Two ways find its trial: Optuna's heartbeats
(RDB storages: no heartbeat for ``grace_period`` seconds) and, for any storage, the worker's
``host:pid`` stored on the trial when that process no longer exists on this machine. Either way the
trial becomes FAIL (with no ``fail_reason``: nothing in the trial failed, its worker did), a copy
is enqueued by Optuna's ``RetryHeartbeatStaleTrialCallback``, and its MLflow run, still RUNNING, is ended KILLED.

A third case neither finds: a trial created at the instant its database went down (measured: a
PostgreSQL SIGKILL) has no heartbeat (Optuna skips those for ever) and no worker (metaopt's objective
sets the ``worker`` attribute first). Such a trial, RUNNING for twice the grace period with neither, is
an orphan and is failed and retried the same way.
"""

from __future__ import annotations

import datetime
import os
import warnings

import optuna
from optuna.trial import TrialState

from metaopt.tuning._storage import host_name, retry_callback

__all__ = ["recover_dead_trials", "close_killed_runs"]


def _process_gone(identity: str | None) -> bool:
    if not identity or ":" not in identity:
        return False
    host, _, pid = identity.rpartition(":")
    if host != host_name() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover_dead_trials(study: optuna.Study) -> list[int]:
    """Fail (and enqueue a retry of) every RUNNING trial whose worker is dead; return their numbers."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    storage = study._storage
    failed = []
    if is_heartbeat_enabled(storage):
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        failed.extend(sorted(before - after))
    retry = retry_callback()
    orphan_after = _orphan_after(storage)
    now = datetime.datetime.now()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker")
        orphan = (worker is None and orphan_after is not None and trial.datetime_start is not None
                  and (now - trial.datetime_start).total_seconds() > orphan_after)
        if _process_gone(worker) or orphan:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                retry(study, storage.get_trial(trial._trial_id))
                failed.append(trial.number)
    return failed


def _orphan_after(storage: optuna.storages.BaseStorage) -> float | None:
    """Seconds after which a RUNNING trial with no worker is an orphan: twice the heartbeat grace period
    (Optuna's trial start times are the creating host's clock, so leave room for skew); None without
    heartbeats (a storage metaopt did not open: its trials may not be metaopt's)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    if not is_heartbeat_enabled(storage):
        return None
    grace = getattr(storage, "grace_period", None) or getattr(storage, "_grace_period", None)
    return 2.0 * float(grace or 2 * storage.get_heartbeat_interval())


def close_killed_runs(study: optuna.Study, tracking_uri: str | None) -> list[str]:
    """End as KILLED the MLflow runs of FAIL trials left RUNNING by a dead worker; return their ids."""
    from metaopt._imports import require
    from metaopt.tracking import resolve_tracking_uri

    candidates = [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                  if t.user_attrs.get("mlflow_run_id") and "fail_reason" not in t.user_attrs]
    if not candidates:
        return []
    mlflow = require("mlflow", "mlflow")
    client = mlflow.MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    closed = []
    for trial in candidates:
        run_id = trial.user_attrs["mlflow_run_id"]
        try:
            run = client.get_run(run_id)
        except mlflow.exceptions.MlflowException:
            continue  # logged to another tracking server
        if run.info.status == "RUNNING":
            client.set_tag(run_id, "trial_state", "KILLED")
            client.set_terminated(run_id, status="KILLED")
            closed.append(run_id)
    return closed
