"""Optuna's journal file storage with heartbeats, as its RDB storage has.

Optuna gives heartbeats only to ``RDBStorage``; a journal shared by workers on several machines (a
file on a shared file system) would otherwise keep the trial of a dead worker RUNNING for ever.
Each running trial's worker writes the time into the trial's system attributes every
``heartbeat_interval`` seconds (Optuna's own heartbeat thread calls ``record_heartbeat``); a RUNNING
trial whose last beat is older than ``grace_period`` is stale, and Optuna's ``fail_stale_trials``
fails it and hands it to the retry callback. Beats are wall-clock times of the writing machine, so
the workers' clocks must agree to well within ``grace_period`` (NTP does this).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import optuna
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalStorage
from optuna.trial import FrozenTrial, TrialState

__all__ = ["HeartbeatJournalStorage", "HEARTBEAT_ATTR"]

HEARTBEAT_ATTR = "metaopt:heartbeat"


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A ``JournalStorage`` whose RUNNING trials beat, so a dead worker's trial is failed and retried."""

    def __init__(
        self,
        backend: optuna.storages.journal.BaseJournalBackend,
        *,
        heartbeat_interval: int,
        grace_period: int,
        stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    ) -> None:
        super().__init__(backend)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self._stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        # A trial without a beat yet was just asked for (its first beat comes with its heartbeat thread).
        return [t._trial_id for t in running
                if HEARTBEAT_ATTR in t.system_attrs and now - t.system_attrs[HEARTBEAT_ATTR] > self._grace_period]

    def get_heartbeat_interval(self) -> int | None:
        return self._heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._stale_trial_callback
