"""The budget loop shared by ``metaopt tune`` and ``metaopt prompt tune``: what counts against
``--trials``, and trials run one at a time until the study holds that many.

``--trials N`` is the study's total of *counted* trials: finished ones (complete, pruned, failed by
their own error) plus running and queued ones. Two kinds of FAIL trial are not counted and the
summary says so: a trial whose worker died (its retry, with the same parameters, is counted instead)
and a trial that found the budget already spent when it started (``over_budget``: two workers that
both saw N-1 counted trials and both asked for one; the later one stops before any work).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from metaopt.tuning._progress import StudyProgress
from metaopt.tuning._recovery import recover_dead_trials, release_own_trials

__all__ = ["OverBudget", "budget_used", "counts", "describe_counts", "thread_budget", "optimize_within_budget"]


class OverBudget(Exception):
    """A trial that started after the budget was spent by other workers (it does no work)."""


def _counted(t: FrozenTrial) -> bool:
    if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING):
        return True
    return t.state == TrialState.FAIL and "fail_reason" in t.user_attrs


def budget_used(study: optuna.Study) -> tuple[int, int]:
    """(trials that count against ``--trials``, trials still queued (WAITING))."""
    trials = study.get_trials(deepcopy=False)
    return sum(_counted(t) for t in trials), sum(t.state == TrialState.WAITING for t in trials)


def counts(trials: Iterable[FrozenTrial]) -> dict[str, int]:
    """How the trials of a study were counted, for the summary: ``counted`` against ``--trials``,
    ``killed`` (their worker died; retried), ``over_budget`` (started after the budget was spent),
    ``discarded`` (``--reproducible``: a duplicate of a queued trial or one sampled outside a batch)."""
    out = {"counted": 0, "killed": 0, "over_budget": 0, "discarded": 0}
    for t in trials:
        if _counted(t):
            out["counted"] += 1
        elif t.state == TrialState.FAIL:
            key = ("over_budget" if t.user_attrs.get("over_budget") else
                   "discarded" if t.user_attrs.get("discarded") else "killed")
            out[key] += 1
    return out


def thread_budget(workers: int) -> int:
    """Torch threads per worker: the cores this process may use (capped by $OMP_NUM_THREADS) over N."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        cores = min(cores, int(os.environ["OMP_NUM_THREADS"]))
    return max(1, cores // workers)


def _guard(study: optuna.Study, objective: Callable[[optuna.Trial], Any], trials: int | None
           ) -> Callable[[optuna.Trial], Any]:
    """``objective`` that first checks that the trials numbered before this one leave it room."""
    def guarded(trial: optuna.Trial) -> Any:
        if trials is not None:
            before = sum(_counted(t) for t in study.get_trials(deepcopy=False) if t.number < trial.number)
            if before >= trials:
                trial.set_user_attr("over_budget", True)
                raise OverBudget(f"trial {trial.number}: the budget of {trials} trials was spent by other workers")
        return objective(trial)
    return guarded


def optimize_within_budget(study: optuna.Study, objective: Callable[[optuna.Trial], Any], *, trials: int | None,
                           timeout: float | None, progress: bool | StudyProgress = True,
                           catch: tuple[type[Exception], ...] = (), poll: float = 1.0,
                           linger: float | None = None) -> int:
    """Run trials one at a time until the study holds ``trials`` counted trials (:func:`budget_used`:
    a resumed study or other workers' trials count) or ``timeout`` seconds have passed; recover dead
    workers' trials between trials, and wait for other workers' running trials before leaving. Return how
    many this call ran. ``progress`` is a bool or the
    :class:`StudyProgress` the objective already reports into."""
    started, ran = time.monotonic(), 0
    board = progress if isinstance(progress, StudyProgress) else StudyProgress(
        study.study_name, total=trials, initial=budget_used(study)[0], enabled=bool(progress))
    guarded = _guard(study, objective, trials)
    if linger is None:
        interval = getattr(study._storage, "get_heartbeat_interval", lambda: None)() or 10
        linger = 6 * interval  # twice the grace period after which a silent trial is failed
    seen: list[tuple[int, int]] = []
    quiet_since = time.monotonic()
    try:
        while timeout is None or time.monotonic() - started < timeout:
            recover_dead_trials(study)
            counted, pending = budget_used(study)
            board.set_counted(counted)
            if trials is not None and counted >= trials and not pending:
                running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                sign = [(t.number, len(t.intermediate_values)) for t in running]
                if sign != seen:
                    seen, quiet_since = sign, time.monotonic()
                if not running or time.monotonic() - quiet_since > linger:
                    break
                # Another worker's trial still runs: stay until it ends, so that if its host dies, the
                # heartbeat fails it and this worker runs the retry (no host leaves a trial behind).
                # Leave after ``linger`` seconds without news (a trial orphaned before its first heartbeat,
                # e.g. created as the database went down, would otherwise keep every host waiting).
                time.sleep(poll)
                continue
            study.optimize(guarded, n_trials=1, catch=(*catch, OverBudget), gc_after_trial=False)
            ran += 1
        board.set_counted(budget_used(study)[0])
    except KeyboardInterrupt:
        release_own_trials(study)  # no RUNNING trial left behind; the next run retries it
        raise
    finally:
        board.close()
    return ran


def describe_counts(summary: dict[str, Any]) -> str:
    """The summary's first line: trials by state, and how they were counted against ``--trials``."""
    states, c = summary["states"], summary["trial_counts"]
    text = (f"study {summary['study']}: {summary['trials']} trials ({states['complete']} complete, "
            f"{states['pruned']} pruned, {states['fail']} failed)")
    if "iterations_spent" in summary:
        text += f", {summary['iterations_spent']} meta-iterations"
    budget = summary.get("trials_budget")
    text += f"; {c['counted']} counted" + (f" against --trials {budget}" if budget else "")
    killed = f"{c['killed']} failed because their worker died or was interrupted (retried with the same parameters)"
    skipped = [killed if c["killed"] else "",
               f"{c['over_budget']} started after the budget was spent (no work)" if c["over_budget"] else "",
               f"{c['discarded']} discarded (duplicates of queued trials)" if c["discarded"] else ""]
    skipped = [s for s in skipped if s]
    if skipped:
        text += "; not counted: " + ", ".join(skipped)
    return text
