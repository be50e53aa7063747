"""Fixtures for the tests that run ``metaopt tune`` in subprocesses and kill one mid-trial."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

TINY_SPACE = '''
import os
import time

# A test that kills a worker mid-trial needs a trial it can catch mid-budget: sinusoid iterations take milliseconds,
# so on a fast machine a whole trial could pass between two looks at the study. A fixed pause per meta-iteration
# (in the tuning process only, set by the test) makes the window seconds long on any machine.
if os.environ.get("TINY_SPACE_PAUSE"):
    from metaopt.trainer import MetaTrainer

    _train_tasks = MetaTrainer.train_tasks

    def _paused(self, iteration):
        time.sleep(float(os.environ["TINY_SPACE_PAUSE"]))
        return _train_tasks(self, iteration)

    MetaTrainer.train_tasks = _paused


def space(trial):
    return {"algorithm": "fomaml", "inner_lr": trial.suggest_float("inner_lr", 1e-3, 1e-2, log=True),
            "meta_batch": 2}
'''


@pytest.fixture
def tiny_space(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Writes ``tiny_space.py`` (``--algorithms tiny_space:space``: FOMAML with a sampled inner rate) into
    ``tmp_path``; call the result for a ``metaopt tune`` subprocess's environment that imports it, pausing
    ``pause`` seconds per meta-iteration."""
    (tmp_path / "tiny_space.py").write_text(TINY_SPACE)

    def env(pause: float = 0.0) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                "OMP_NUM_THREADS": "1", "METAOPT_TUNE_HEARTBEAT": "1", "TINY_SPACE_PAUSE": str(pause or "")}

    return env
