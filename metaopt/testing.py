"""Helpers for testing code built on metaopt (used by metaopt's own tests, as ``optuna.testing`` is)."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metaopt.tasks.base import Task

__all__ = ["run_cli", "random_episode", "exact_gpu_arithmetic", "GATE_ENV", "gated", "TrialGate"]

# A fault test (kill a worker mid-trial, Ctrl-C a study) needs its trials at a known point when it strikes.
# Watching the study for one that happens to be mid-way missed trials that finished between two looks; a
# gate instead stops each chosen trial at a chosen meta-iteration until the test releases it.
GATE_ENV = "METAOPT_TEST_GATE"


def run_cli(args: Sequence[str], capsys: Any) -> tuple[int, str, str]:
    """Run ``metaopt ARGS`` in-process; return (exit code, stdout, stderr) as captured by pytest's ``capsys``."""
    from metaopt.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return int(code or 0), out, err


def random_episode(ways: int, shots: int, queries: int, seed: int, size: int = 28) -> Task:
    """An N-way K-shot episode of uniform random ``size`` x ``size`` images, support in label-ordered
    blocks (``Task.shots``) as ``EpisodeSampler`` lays one out: timing arithmetic needs no dataset."""
    import torch

    from metaopt.tasks.base import Task

    g = torch.Generator().manual_seed(seed)
    return Task(torch.rand(ways * shots, 1, size, size, generator=g), torch.arange(ways).repeat_interleave(shots),
                torch.rand(ways * queries, 1, size, size, generator=g), torch.arange(ways).repeat_interleave(queries),
                "classification", ways, shots)


@contextmanager
def exact_gpu_arithmetic() -> Iterator[None]:
    """Inside the block, no TF32 (a 10-bit mantissa, PyTorch's default for GPU convolutions) and only
    deterministic cuDNN kernels, so GPU results can be compared with the CPU's; restored afterwards."""
    import torch

    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32


_space_attrs: dict[int, dict[str, Any]] = {}  # trial number -> its user attrs when the space last saw it


def gated(space: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """``space`` unchanged unless ``$METAOPT_TEST_GATE`` is set (by :meth:`TrialGate.env`); then every trial
    numbered ``min_trial`` or more (and of batch ``min_batch`` or more, ``--reproducible``) stops at the start of
    meta-iteration ``iteration``: it writes ``held-N-PID.json`` in the gate's folder and waits there until the
    test calls :meth:`TrialGate.release` (or, ``action="disk_full"``, goes on with a full disk). Decorate the
    space of a module given as ``--algorithms MODULE:space``."""
    spec = os.environ.get(GATE_ENV)
    if not spec:
        return space
    _install_gate(json.loads(spec))

    @functools.wraps(space)
    def recorded(trial: Any) -> dict[str, Any]:
        # --reproducible also calls the space on in-memory trials to sample a batch; the objective's call
        # (the real trial) comes last, just before that trial trains, so its attrs are the ones kept
        _space_attrs[trial.number] = dict(trial.user_attrs)
        return space(trial)

    return recorded


def _install_gate(spec: dict[str, Any]) -> None:
    from metaopt.trainer import MetaTrainer

    if getattr(MetaTrainer.train_tasks, "gated", False):
        return
    original = MetaTrainer.train_tasks
    folder = Path(spec["folder"])

    def train_tasks(self: MetaTrainer, iteration: int) -> list:
        # a tune trial trains in STUDY_DIR/trial-NNNN (metaopt.tuning._objective)
        name = self.out_dir.name if self.out_dir is not None else ""
        if iteration == spec["iteration"] and name.startswith("trial-"):
            number = int(name.removeprefix("trial-"))
            if (number >= spec.get("min_trial", 0)
                    and _space_attrs.get(number, {}).get("batch", 0) >= spec.get("min_batch", 0)):
                _mark(folder, number)
                if spec.get("action", "hold") == "disk_full":
                    _fill_disk()
                else:
                    _wait_for_release(folder)
        return original(self, iteration)

    train_tasks.gated = True  # type: ignore[attr-defined]
    MetaTrainer.train_tasks = train_tasks  # type: ignore[method-assign]


def _mark(folder: Path, number: int) -> None:
    tmp = folder / f".held-{number}-{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"trial": number, "pid": os.getpid()}))
    tmp.rename(folder / f"held-{number}-{os.getpid()}.json")  # whole or absent for the test that reads it


def _wait_for_release(folder: Path) -> None:
    while not (folder / "go").exists():
        time.sleep(0.02)


def _fill_disk() -> None:
    """From now on every SQL write of this process (the study's database, MLflow's) fails as SQLite's does on a
    full disk: the driver's ``OperationalError``, wrapped by SQLAlchemy as it wraps the real one. Reads work."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def full(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SELECT", "PRAGMA")):
            raise sqlite3.OperationalError("database or disk is full")

    if not event.contains(Engine, "before_cursor_execute", _fill_disk.__dict__.get("listener")):
        _fill_disk.__dict__["listener"] = full
        event.listen(Engine, "before_cursor_execute", full)


class TrialGate:
    """The test's side of :func:`gated`: ``env()`` for the ``metaopt tune`` process, ``wait()`` for trials to
    stop at the gate (``[{"trial": N, "pid": PID}, ...]``), ``release()`` to let every trial go on."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def env(self, *, iteration: int, min_trial: int = 0, min_batch: int = 0, action: str = "hold"
            ) -> dict[str, str]:
        """The environment that gates the chosen trials at ``iteration``. ``action="disk_full"``: instead of
        waiting there, the first of them fills the disk for its process (every SQL write fails from then on)."""
        return {GATE_ENV: json.dumps({"folder": str(self.folder), "iteration": iteration, "min_trial": min_trial,
                                      "min_batch": min_batch, "action": action})}

    def held(self) -> list[dict[str, int]]:
        return sorted((json.loads(p.read_text()) for p in self.folder.glob("held-*.json")),
                      key=lambda h: h["trial"])

    def wait(self, count: int = 1, *, proc: Any = None, timeout: float = 600.0) -> list[dict[str, int]]:
        """Block until ``count`` trials are held; fail at once if ``proc`` (a ``Popen``, or a list of them)
        ended first. A held trial stays held, so this waits for a state that cannot be missed, and ``timeout``
        only bounds a bug."""
        procs = proc if isinstance(proc, (list, tuple)) else [] if proc is None else [proc]
        deadline = time.monotonic() + timeout
        while len(self.held()) < count:
            ended = [p for p in procs if p.poll() is not None]
            if ended:
                raise AssertionError(f"a process ended (exit {ended[0].returncode}) with {len(self.held())} of "
                                     f"{count} trials at the gate")
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.held())} of {count} trials at the gate after {timeout} s")
            time.sleep(0.05)
        return self.held()

    def release(self) -> None:
        (self.folder / "go").touch()
