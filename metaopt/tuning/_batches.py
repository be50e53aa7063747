"""``--reproducible``: a parallel study that gives the same trials, parameters and best trial with any
number of workers, hosts, kills and resumes.

Optuna's parallel studies are not reproducible: each worker's sampler sees whichever trials happened
to finish first. Here the study runs in synchronous batches of ``batch_size`` trials:

- Batch ``b``'s parameters are a pure function of ``(seed, b, the finished trials of batches < b)``:
  a fresh sampler seeded from ``(seed, b)`` is told the earlier batches' trials in (batch, slot)
  order on an in-memory study, then asked ``batch_size`` times (later asks see the earlier ones as
  running, as a constant-liar TPE expects). Any process can compute it; the trials are *enqueued*
  (WAITING, with user attrs ``batch`` and ``slot``), never sampled by the worker that runs them.
- Workers only pop queued trials (:class:`QueueOnlyStudy`); batch ``b + 1`` is enqueued once every
  slot of batch ``b`` has finished. Pruners see only earlier batches (:class:`EarlierBatches`), so a
  pruning decision does not depend on which trial of the same batch finished first.
- Training is already seeded; torch runs one thread per worker, so sums are added in the same order
  whatever the worker count.
- A killed trial's retry carries the same parameters and (batch, slot); two processes that enqueue
  the same batch at once make duplicates, which are *discarded* (FAIL, ``discarded``) when popped:
  the lowest-numbered trial of a (batch, slot) is the one that counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState, create_trial

from metaopt.checkpoint import file_lock
from metaopt.tuning._progress import StudyProgress
from metaopt.tuning._recovery import recover_dead_trials, release_own_trials
from metaopt.tuning._samplers import make_sampler

__all__ = ["QueueOnlyStudy", "NoQueuedTrial", "EarlierBatches", "Discarded", "batch_params", "fill_queue",
           "canonical_trials", "discard_duplicates", "optimize_in_batches"]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class NoQueuedTrial(Exception):
    """No WAITING trial to run: the rest of the batch is running elsewhere."""


class Discarded(Exception):
    """A duplicate of a queued (batch, slot): it does no work."""


class QueueOnlyStudy(optuna.Study):
    """A study whose ``ask`` only pops queued trials and never samples a new one.

    Overrides Optuna's private ``_pop_waiting_trial_id`` (the one place ``ask`` chooses between a queued
    trial and a new one); tests/tuning/test_reproducible.py fails if that stops holding."""

    def _pop_waiting_trial_id(self) -> int | None:
        trial_id = super()._pop_waiting_trial_id()
        if trial_id is None:
            raise NoQueuedTrial
        return trial_id


class EarlierBatches:
    """The study as a pruner of batch ``batch`` may see it: trials of earlier batches only."""

    def __init__(self, study: optuna.Study, batch: int) -> None:
        self._study, self._batch = study, batch

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[FrozenTrial]:
        return [t for t in self._study.get_trials(deepcopy=deepcopy, states=states)
                if t.user_attrs.get("batch", -1) < self._batch]

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    @property
    def best_trial(self) -> FrozenTrial:
        done = self.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not done:
            raise ValueError("no trials are completed yet")
        sign = 1 if self._study.direction == optuna.study.StudyDirection.MAXIMIZE else -1
        return max(done, key=lambda t: (sign * t.values[0], -t.number))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


class BatchPruner(optuna.pruners.BasePruner):
    """``pruner`` deciding against the trials of earlier batches only."""

    def __init__(self, pruner: optuna.pruners.BasePruner) -> None:
        self.pruner = pruner

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return self.pruner.prune(EarlierBatches(study, trial.user_attrs.get("batch", 0)), trial)


def _killed_or_discarded(t: FrozenTrial) -> bool:
    return t.state == TrialState.FAIL and "fail_reason" not in t.user_attrs


def canonical_trials(trials: list[FrozenTrial]) -> dict[tuple[int, int], FrozenTrial]:
    """The trial that counts for each (batch, slot): the lowest-numbered one neither killed nor discarded."""
    out: dict[tuple[int, int], FrozenTrial] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if "batch" in t.user_attrs and not _killed_or_discarded(t):
            out.setdefault((t.user_attrs["batch"], t.user_attrs["slot"]), t)
    return out


def batch_params(study: optuna.Study, space: Callable[[Any], Any], *, sampler: str, seed: int, batch: int,
                 batch_size: int) -> list[dict[str, Any]]:
    """The parameters of every slot of ``batch`` (see the module docstring)."""
    history = [t for (b, _), t in sorted(canonical_trials(study.get_trials(deepcopy=False)).items()) if b < batch]
    mem = optuna.create_study(directions=[d.name.lower() for d in study.directions],
                              sampler=make_sampler(sampler, seed=seed * 100_003 + batch,
                                                   n_objectives=len(study.directions)))
    for t in history:
        if t.state not in FINISHED:
            raise RuntimeError(f"batch {batch} asked for before trial {t.number} of batch {t.user_attrs['batch']} "
                               "finished")
        mem.add_trial(create_trial(state=t.state, values=t.values if t.state == TrialState.COMPLETE else None,
                                   params=t.params, distributions=t.distributions,
                                   intermediate_values=t.intermediate_values))
    out = []
    for _ in range(batch_size):
        trial = mem.ask()
        space(trial)
        out.append(dict(trial.params))
    return out


def _wanted(batch: int, batch_size: int, total: int) -> int:
    return max(0, min(batch_size, total - batch * batch_size))


def fill_queue(study: optuna.Study, space: Callable[[Any], Any], *, sampler: str, seed: int, batch_size: int,
               total: int) -> bool:
    """Enqueue what the study lacks: the missing slots of the last batch (a resume with more ``--trials``)
    or, once it has finished, the next batch. Return True when every slot of ``total`` has finished."""
    trials = study.get_trials(deepcopy=False)
    canon = canonical_trials(trials)
    last = max((b for b, _ in canon), default=-1)
    if last >= 0:
        missing = [s for s in range(_wanted(last, batch_size, total)) if (last, s) not in canon]
        if missing:
            params = batch_params(study, space, sampler=sampler, seed=seed, batch=last, batch_size=batch_size)
            for s in missing:
                study.enqueue_trial(params[s], user_attrs={"batch": last, "slot": s})
            return False
        if any(canon[(last, s)].state not in FINISHED for s in range(_wanted(last, batch_size, total))):
            return False
    nxt = last + 1
    if _wanted(nxt, batch_size, total) == 0:
        return all(t.state in FINISHED for t in canon.values())
    params = batch_params(study, space, sampler=sampler, seed=seed, batch=nxt, batch_size=batch_size)
    for s in range(_wanted(nxt, batch_size, total)):
        study.enqueue_trial(params[s], user_attrs={"batch": nxt, "slot": s})
    return False


def discard_duplicates(study: optuna.Study) -> list[int]:
    """Claim and discard queued trials whose (batch, slot) belongs to a lower-numbered trial (two
    processes enqueued the same batch at once); return their numbers."""
    trials = study.get_trials(deepcopy=False)
    canon = canonical_trials(trials)
    storage, out = study._storage, []
    for t in trials:
        key = (t.user_attrs.get("batch"), t.user_attrs.get("slot"))
        if t.state != TrialState.WAITING or key not in canon or canon[key].number == t.number:
            continue
        try:
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                continue  # another process took it; its worker discards it
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        storage.set_trial_user_attr(t._trial_id, "discarded", f"duplicate of trial {canon[key].number}")
        storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
        out.append(t.number)
    return out


def _dedup(study: optuna.Study, objective: Callable[[optuna.Trial], Any]) -> Callable[[optuna.Trial], Any]:
    def checked(trial: optuna.Trial) -> Any:
        frozen = study._storage.get_trial(trial._trial_id)
        key = (frozen.user_attrs.get("batch"), frozen.user_attrs.get("slot"))
        first = canonical_trials(study.get_trials(deepcopy=False)).get(key)
        if first is not None and first.number != trial.number:
            trial.set_user_attr("discarded", f"duplicate of trial {first.number}")
            raise Discarded(f"trial {trial.number} duplicates trial {first.number}")
        return objective(trial)
    return checked


def optimize_in_batches(study: optuna.Study, objective: Callable[[optuna.Trial], Any], *, space: Callable,
                        sampler: str, seed: int, batch_size: int, trials: int, progress: StudyProgress,
                        catch: tuple[type[Exception], ...] = (), lock: Path | None = None, poll: float = 1.0) -> int:
    """Run queued trials, enqueueing batches as they finish, until all ``trials`` slots have finished."""
    queue = QueueOnlyStudy(study_name=study.study_name, storage=study._storage,
                           sampler=optuna.samplers.RandomSampler(seed=seed), pruner=BatchPruner(study.pruner))
    checked, ran = _dedup(queue, objective), 0
    try:
        while True:
            recover_dead_trials(queue)
            with file_lock(lock):  # fewer duplicate batches among one tune's workers
                done = fill_queue(queue, space, sampler=sampler, seed=seed, batch_size=batch_size, total=trials)
                discard_duplicates(queue)
            progress.set_counted(sum(t.state in FINISHED for t in canonical_trials(queue.get_trials()).values()))
            if done:
                break
            try:
                queue.optimize(checked, n_trials=1, catch=(*catch, Discarded), gc_after_trial=False)
                ran += 1
            except NoQueuedTrial:
                time.sleep(poll)  # the rest of this batch runs elsewhere
    except KeyboardInterrupt:
        release_own_trials(queue)  # its retry keeps the (batch, slot) and parameters
        raise
    finally:
        progress.close()
    return ran
