"""Entry point of one worker process: ``python -m metaopt.tuning._worker INDEX FOLDER``.

The configuration arrives as JSON on standard input (a pipe from the ``tune`` process, see
:mod:`metaopt.tuning._workers`), so no secret is on this process's command line or on disk. FOLDER is
the study's private folder for progress files; if the ``tune`` process was killed before its workers
ended, the last worker to leave removes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _leave(folder: Path, index: str, parent: int) -> None:
    """Remove this worker's progress file; if the parent is gone and no other worker's file remains, the folder."""
    for name in (f"worker-{index}.json", f"worker-{index}.tmp"):
        (folder / name).unlink(missing_ok=True)
    if os.getppid() == parent or any(folder.glob("worker-*.json")):
        return  # the parent removes the folder, or a sibling still runs and leaves after us
    for path in folder.iterdir():
        path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # a sibling removed it first


def main(argv: list[str]) -> int:
    index, folder = argv
    payload = json.loads(sys.stdin.read())
    parent = payload["parent_pid"]  # not os.getppid() here: the parent may have died while we imported torch
    import optuna

    from metaopt.tuning._config import TuneConfig
    from metaopt.tuning._storage import (
        EXIT_STORAGE_LOST,
        describe_storage_error,
        quiet_lost_storage_in_threads,
        storage_lost,
    )
    from metaopt.tuning._study import run_worker
    from metaopt.tuning._workers import EXIT_INTERRUPTED, interrupt_once

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # as `metaopt tune` itself: no line per trial
    try:
        with interrupt_once(), quiet_lost_storage_in_threads():
            run_worker(TuneConfig(**payload["config"]), worker=int(index), parent_run_id=payload["parent_run_id"],
                       status_dir=folder)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # its trial is released (see _workers); the tune process says so in one line
    except Exception as exc:
        if not storage_lost(exc):
            raise
        # Not a traceback per worker: the parent names what happened and how to resume, in one line for all
        # of them, from the reason each left in the folder; a worker whose parent is gone says it itself.
        reason = describe_storage_error(exc)
        if os.getppid() == parent:
            (Path(folder) / f"lost-{index}.txt").write_text(reason)
        else:
            sys.stderr.write(f"metaopt: worker {index}: lost the study storage ({reason})\n")
        return EXIT_STORAGE_LOST
    finally:
        _leave(Path(folder), index, parent)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C while it imported: no trial yet, and no traceback per worker
        sys.exit(130)
