"""What a training run has done so far: the state the trainer checkpoints and its callbacks read.

Its own module so that ``metaopt.callbacks`` can name these types without importing the trainer
(the trainer imports the callbacks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metaopt.evaluation import EvalResult

__all__ = ["TrainState", "TrainResult"]


@dataclass
class TrainState:
    iteration: int = 0
    best: float | None = None
    best_iteration: int | None = None
    bad_validations: int = 0
    stopped_early: str | None = None
    train_seconds: float = 0.0  # wall time of the meta-training steps (not validation), summed over resumes
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class TrainResult:
    state: TrainState
    last_validation: EvalResult | None
