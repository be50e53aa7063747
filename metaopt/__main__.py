"""``python -m metaopt`` and the ``metaopt`` console script."""

from __future__ import annotations

import gc
from typing import NoReturn


def console_main() -> NoReturn:
    """Run the command line, then exit promptly.

    At exit the interpreter runs its cyclic garbage collector over every object still alive, and torch,
    mlflow, optuna and transformers leave hundreds of thousands (650,000 after ``metaopt hyper``): that
    took 10-30 s after the result was printed on a busy 2-core machine, only to free memory the OS takes
    back anyway. Freezing them hides them from the collector; atexit handlers, thread joins, finalisers
    and stream flushes still run as usual, so nothing that a normal exit writes is lost.
    """
    from metaopt.cli import main

    try:
        code = main()
    finally:
        gc.freeze()
        gc.disable()
    raise SystemExit(code)


if __name__ == "__main__":
    console_main()
