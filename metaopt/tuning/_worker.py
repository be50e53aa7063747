"""Entry point of one worker process: ``python -m metaopt.tuning._worker INDEX FOLDER``.

FOLDER is the private folder made by :func:`metaopt.tuning._workers.spawn_workers`: its ``config.json``
(mode 0600) holds the configuration, so no secret is on this process's command line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from metaopt.tuning._config import TuneConfig
from metaopt.tuning._study import run_worker


def main(argv: list[str]) -> int:
    index, folder = argv
    payload = json.loads((Path(folder) / "config.json").read_text())
    run_worker(TuneConfig(**payload["config"]), worker=int(index), parent_run_id=payload["parent_run_id"],
               status_dir=folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
