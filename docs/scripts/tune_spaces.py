"""Spaces for the issue #4 measurements (``--algorithms tune_spaces:NAME`` with docs/scripts on PYTHONPATH)."""

from __future__ import annotations

from typing import Any


def equal_cost(trial: Any) -> dict[str, Any]:
    """MAML on sinusoids with everything that changes a trial's cost fixed (1 inner step, meta-batch 8),
    so trials/min measures the harness and the workers, not the sampled configs."""
    return {"algorithm": "maml", "inner_lr": trial.suggest_float("inner_lr", 1e-3, 0.1, log=True),
            "outer_lr": trial.suggest_float("outer_lr", 1e-4, 1e-2, log=True), "meta_batch": 8, "inner_steps": 1}
