"""What a running study shows: trials counted against the budget and, inside each running trial, its
iteration and last validation score (one line per worker with ``--workers``).

A trial's progress comes from :class:`TrialProgress`, a trainer callback that hands a small status dict
to a sink. In one process the sink is :class:`StudyProgress`, whose bar shows it as a postfix; a worker
process writes it to ``worker-N.json`` in the study's private folder (:func:`write_status`), which the
parent reads and draws (:class:`WorkerBoard`). Nothing here touches the study storage on every
iteration: a remote database would pay a round trip per meta-iteration for a progress bar.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metaopt.callbacks import Callback

__all__ = ["TrialProgress", "StudyProgress", "WorkerBoard", "format_status", "write_status", "read_statuses"]

Status = dict[str, Any]


def format_status(status: Status) -> str:
    """``trial 3 it 120/500 val_mse 0.412`` (or ``idle`` with no trial running)."""
    if status.get("trial") is None:
        return "idle"
    text = f"trial {status['trial']} it {status.get('iteration', 0)}/{status.get('iterations', '?')}"
    if status.get("val") is not None:
        text += f" val_{status.get('metric', 'score')} {status['val']:.4g}"
    return text


class TrialProgress(Callback):
    """Hands ``{"trial", "iteration", "iterations", "metric", "val"}`` to ``sink`` at most every
    ``min_interval`` seconds, and at once after each validation and at the end."""

    def __init__(self, sink: Callable[[Status], None], *, trial: int, iterations: int, metric: str,
                 min_interval: float = 0.5) -> None:
        self.sink = sink
        self.status: Status = {"trial": trial, "iteration": 0, "iterations": iterations, "metric": metric,
                               "val": None}
        self.min_interval = min_interval
        self._last = 0.0

    def _emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.min_interval:
            self._last = now
            self.sink(dict(self.status))

    def on_train_begin(self, trainer: Any) -> None:
        self.status["iteration"] = int(trainer.state.iteration)
        self._emit(force=True)

    def on_iteration_end(self, trainer: Any, iteration: int, metrics: dict[str, float]) -> None:
        self.status["iteration"] = iteration
        self._emit()

    def on_validation_end(self, trainer: Any, iteration: int, result: Any) -> None:
        self.status.update(iteration=iteration, val=float(result.mean))
        self._emit(force=True)


def write_status(path: Path, status: Status) -> None:
    """Replace ``path`` atomically, so the reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    os.replace(tmp, path)


def read_statuses(folder: Path, workers: int) -> list[Status]:
    out = []
    for i in range(workers):
        try:
            out.append(json.loads((folder / f"worker-{i}.json").read_text()))
        except (OSError, ValueError):
            out.append({})
    return out


class StudyProgress:
    """The study's bar in one process: trials counted against ``--trials``, with the running trial's
    status as its postfix. A no-op when disabled."""

    def __init__(self, study_name: str, *, total: int | None, initial: int, enabled: bool = True) -> None:
        self.bar = None
        if enabled and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=min(total, initial), desc=f"study {study_name}", unit="trial")

    def __call__(self, status: Status) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(format_status(status), refresh=True)

    def set_counted(self, counted: int) -> None:
        if self.bar is not None:
            self.bar.n = min(counted, self.bar.total)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class WorkerBoard:
    """The parent's view of ``--workers`` processes: the study bar plus one line per worker."""

    def __init__(self, study_name: str, *, total: int | None, initial: int, workers: int, folder: Path,
                 enabled: bool = True) -> None:
        self.folder, self.workers = folder, workers
        self.study = StudyProgress(study_name, total=total, initial=initial, enabled=enabled)
        self.lines: list[Any] = []
        if self.study.bar is not None:
            from tqdm.auto import tqdm

            self.lines = [tqdm(total=0, position=i + 1, bar_format="{desc}", desc=f"  worker {i}: starting")
                          for i in range(workers)]

    def refresh(self, counted: int | None = None, alive: list[bool] | None = None) -> list[str]:
        """Redraw from the workers' status files; return the lines (what the tests read)."""
        texts = []
        for i, status in enumerate(read_statuses(self.folder, self.workers)):
            state = format_status(status) if status else "starting"
            if alive is not None and not alive[i]:
                state = f"exited ({state})"
            texts.append(f"worker {i}: {state}")
        for line, text in zip(self.lines, texts):
            line.set_description_str(f"  {text}", refresh=True)
        if counted is not None:
            self.study.set_counted(counted)
        return texts

    def close(self) -> None:
        for line in self.lines:
            line.close()
        self.study.close()
