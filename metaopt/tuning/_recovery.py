"""Trials whose worker died: fail them, retry them, and close their MLflow runs as KILLED.

A worker killed with SIGKILL cannot end anything. Two ways find its trial: Optuna's heartbeats
(RDB storages: no heartbeat for ``grace_period`` seconds) and, for any storage, the worker's
``host:pid`` stored on the trial when that process no longer exists on this machine. Either way the
trial becomes FAIL (with no ``fail_reason``: nothing in the trial failed, its worker did), a copy
is enqueued by Optuna's ``RetryHeartbeatStaleTrialCallback``, and its MLflow run, still RUNNING, is ended KILLED.
"""

from __future__ import annotations

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
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _process_gone(trial.user_attrs.get("worker")):
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                retry(study, storage.get_trial(trial._trial_id))
                failed.append(trial.number)
    return failed


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
