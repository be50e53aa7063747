"""``--workers N``: worker processes on one study, started and watched by the ``tune`` process.

No secret travels on a command line (any local user can read ``/proc/PID/cmdline``) nor rests on
disk: each worker is started as ``python -m metaopt.tuning._worker INDEX FOLDER`` and reads the study's
configuration (storage URL and tracking URI included) as JSON from its standard input, a pipe from this
process. FOLDER is a private temporary folder (mode 0700) where the workers write their running
trial's progress (:mod:`._progress`) and, with ``--reproducible``, share a lock; it holds no secret, and
it is removed when the workers have ended (by the last worker if this process was killed first).

A worker that dies (killed, out of memory) leaves its trial RUNNING; :func:`recover_dead_trials`
fails it and enqueues a retry with the same parameters, which the surviving workers run. When the
workers have ended, :class:`WorkerDied` names each dead worker, its trial and that trial's retry;
the CLI prints it on one line and exits with :data:`EXIT_WORKER_DIED`.

Ctrl-C reaches every process of the terminal's process group at once. Each worker fails its running trial
and enqueues its retry (:func:`metaopt.tuning._recovery.release_own_trials`) before it exits, and the ``tune``
process waits for them (forwarding the interrupt to any that did not get it) instead of killing them mid-way,
so the same command run again finds no RUNNING trial and runs each interrupted parameter set once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.trial import TrialState

from metaopt.tuning._config import TuneConfig
from metaopt.tuning._loop import budget_used
from metaopt.tuning._progress import WorkerBoard
from metaopt.tuning._recovery import recover_dead_trials
from metaopt.tuning._storage import EXIT_STORAGE_LOST, StorageLost, worker_identity

__all__ = ["EXIT_WORKER_DIED", "EXIT_INTERRUPTED", "WorkerDied", "spawn_workers", "interrupt_once"]

EXIT_WORKER_DIED = 3  # `metaopt tune`: a worker process died; finished trials are kept, re-run to resume
EXIT_INTERRUPTED = 130  # the shell's code for a process ended by SIGINT
STOP_SECONDS = 30.0  # how long interrupted workers get to release their trials before they are terminated


@contextmanager
def interrupt_once() -> Iterator[None]:
    """Inside the block, the first SIGINT raises ``KeyboardInterrupt`` and later ones are ignored, so the
    cleanup it starts (failing and retrying this process's trials, waiting for the workers) is not cut short
    by a second Ctrl-C or by the ``tune`` process forwarding one. Only in the main thread (the only one
    that may set handlers); a SIGINT ignored at start (a background job of a shell) stays ignored."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
        yield
        return

    def once(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # the process is leaving: Optuna's warning (with a traceback) for the trial it fails now is noise
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        raise KeyboardInterrupt

    verbosity = optuna.logging.get_verbosity()
    previous = signal.signal(signal.SIGINT, once)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        optuna.logging.set_verbosity(verbosity)


def _stop(procs: list[subprocess.Popen]) -> None:
    """Interrupt the workers still running (a terminal interrupted them already; ``kill -INT`` on this
    process did not) and give them :data:`STOP_SECONDS` to release their trials and exit."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_SECONDS
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass  # terminated by the caller


class WorkerDied(RuntimeError):
    """One or more worker processes died; the message is one line naming them, their trials and retries."""


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _describe(study: optuna.Study, index: int, proc: subprocess.Popen) -> str:
    """``worker 1 (pid 123, killed by SIGKILL) during trial 4, retried as trial 6``."""
    identity = f"{worker_identity().rsplit(':', 1)[0]}:{proc.pid}"
    trials = study.get_trials(deepcopy=False)
    own = [t for t in trials if t.user_attrs.get("worker") == identity and t.state == TrialState.FAIL
           and "fail_reason" not in t.user_attrs and not t.user_attrs.get("over_budget")]
    text = f"worker {index} (pid {proc.pid}, {_exit_text(proc.returncode)})"
    if not own:
        return text + " between trials, nothing to retry"
    parts = []
    for t in own:
        retries = [r.number for r in trials if r.system_attrs.get("failed_trial") == t.number]
        parts.append(f"during trial {t.number}, " + (f"retried as trial {retries[0]}" if retries else "not retried"))
    return f"{text} " + "; ".join(parts)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip() or "no reason given"
    except OSError:
        return "no reason given"


def spawn_workers(cfg: TuneConfig, study: optuna.Study, parent_run_id: str | None) -> None:
    """Run ``cfg.workers`` worker processes to the end; raise :class:`WorkerDied` if any died."""
    folder = Path(tempfile.mkdtemp(prefix="metaopt-tune-"))  # mode 0700
    procs: list[subprocess.Popen] = []
    try:
        payload = json.dumps({"config": {**cfg.to_dict(), "progress": False}, "parent_run_id": parent_run_id,
                              "parent_pid": os.getpid()})
        board = None
        try:
            for i in range(cfg.workers):
                proc = subprocess.Popen([sys.executable, "-m", "metaopt.tuning._worker", str(i), str(folder)],
                                        stdin=subprocess.PIPE, text=True)
                procs.append(proc)
                proc.stdin.write(payload)  # a pipe: the secret never touches the disk or the command line
                proc.stdin.close()
            board = WorkerBoard(cfg.study or "", total=cfg.trials, initial=budget_used(study)[0],
                                workers=cfg.workers, folder=folder, enabled=cfg.progress)
            last_poll = 0.0
            while any(p.poll() is None for p in procs):
                counted = None
                if time.monotonic() - last_poll > 3:  # the storage may be remote: poll it gently
                    last_poll, counted = time.monotonic(), budget_used(study)[0]
                board.refresh(counted, alive=[p.poll() is None for p in procs])
                time.sleep(0.5)
            board.refresh(budget_used(study)[0], alive=[False] * len(procs))
        except KeyboardInterrupt:
            _stop(procs)
            raise
        finally:
            if board is not None:
                board.close()
            for p in procs:  # the parent is leaving (an error, or workers that outstayed _stop): take them along
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                p.wait()
        dead = [(i, p) for i, p in enumerate(procs) if p.returncode != 0]
        reasons = sorted({_read(folder / f"lost-{i}.txt") for i, p in dead if p.returncode == EXIT_STORAGE_LOST})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if dead and all(p.returncode == EXIT_STORAGE_LOST for _, p in dead):
        which = "worker" + ("s" if len(dead) > 1 else "")
        raise StorageLost(f"{which} {', '.join(str(i) for i, _ in dead)} of {cfg.workers}: {'; '.join(reasons)}")
    if dead:
        recover_dead_trials(study)
        lines = "; ".join(_describe(study, i, p) for i, p in dead)
        raise WorkerDied(f"{len(dead)} of {cfg.workers} workers died: {lines}; finished trials are kept, "
                         "re-run the same command to resume")
