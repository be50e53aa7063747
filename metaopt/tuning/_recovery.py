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

A worker interrupted by Ctrl-C is alive when it learns of it, and releases its own trial before it exits
(:func:`release_own_trials`): failed the same way, with its retry enqueued, so the next run neither finds it
RUNNING nor samples the rest of the budget around a hole.
"""

from __future__ import annotations

import datetime
import os
import warnings

import optuna
from optuna.trial import TrialState

from metaopt.tuning._storage import host_name, retry_callback, worker_identity

__all__ = ["recover_dead_trials", "release_own_trials", "close_killed_runs"]


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


def release_own_trials(study: optuna.Study) -> list[int]:
    """This process is leaving mid-trial (Ctrl-C): fail its trials still RUNNING, and enqueue one retry of
    each of its trials that failed without a reason of its own (Optuna fails the trial that a
    ``KeyboardInterrupt`` leaves) and has none yet. Return the numbers retried."""
    me, storage, retry = worker_identity(), study._storage, retry_callback()
    trials = study.get_trials(deepcopy=False)
    # a retry's retry_history ends with the trial it retries (its failed_trial is the first of the series)
    retried = {t.system_attrs["retry_history"][-1] for t in trials if t.system_attrs.get("retry_history")}
    out = []
    for t in trials:
        if t.user_attrs.get("worker") != me or t.number in retried:
            continue
        if t.state == TrialState.RUNNING:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        elif t.state != TrialState.FAIL or any(k in t.user_attrs for k in ("fail_reason", "over_budget", "discarded")):
            continue
        retry(study, storage.get_trial(t._trial_id))
        out.append(t.number)
    return out


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
