"""Fixtures for the tests that run ``metaopt tune`` in subprocesses and stop, kill or interrupt one mid-trial."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# Gated (metaopt.testing.gated): a test that strikes mid-trial passes TrialGate(...).env(...) and its trials wait
# at a known meta-iteration until it has struck, however fast or slow the machine is.
TINY_SPACE = '''
from metaopt.testing import gated


@gated
def space(trial):
    return {"algorithm": "fomaml", "inner_lr": trial.suggest_float("inner_lr", 1e-3, 1e-2, log=True),
            "meta_batch": 2}
'''


@pytest.fixture
def tiny_space(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Writes ``tiny_space.py`` (``--algorithms tiny_space:space``: FOMAML with a sampled inner rate) into
    ``tmp_path``; call the result for a ``metaopt tune`` subprocess's environment that imports it, with
    ``gate`` (``TrialGate.env(...)``) added to stop its trials at a known point."""
    (tmp_path / "tiny_space.py").write_text(TINY_SPACE)

    def env(gate: dict[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k != "METAOPT_TEST_GATE"}
        return {**base, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                "OMP_NUM_THREADS": "1", "METAOPT_TUNE_HEARTBEAT": "1", **(gate or {})}

    return env
