"""Entry point of one worker process: ``python -m metaopt.tuning._worker INDEX PARENT_RUN_ID CONFIG_JSON``."""

from __future__ import annotations

import json
import sys

from metaopt.tuning._config import TuneConfig
from metaopt.tuning._study import run_worker


def main(argv: list[str]) -> int:
    index, parent_run_id, payload = argv
    run_worker(TuneConfig(**json.loads(payload)), worker=int(index), parent_run_id=parent_run_id or None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
