"""Trainer callbacks: the hook points tracking (MLflow) and pruning (Optuna) attach to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

    from metaopt.algorithms.base import MetaLearner
    from metaopt.evaluation import EvalResult
    from metaopt.train_state import TrainResult, TrainState

__all__ = ["Callback", "StopTraining", "EarlyStopping", "TrainerView"]


class TrainerView(Protocol):
    """What a callback may read of the trainer (``metaopt.trainer.MetaTrainer`` is one); named here so
    that this module does not import the trainer, which imports it."""

    learner: MetaLearner
    optimizer: torch.optim.Optimizer
    state: TrainState


class StopTraining(Exception):
    """Raised by a callback to end training gracefully (the run still checkpoints and evaluates)."""


class Callback:
    """No-op base; override what you need. Exceptions other than StopTraining propagate
    (for example ``optuna.TrialPruned``), after the trainer has checkpointed."""

    def on_train_begin(self, trainer: TrainerView) -> None: ...

    def on_iteration_end(self, trainer: TrainerView, iteration: int, metrics: dict[str, float]) -> None: ...

    def on_validation_end(self, trainer: TrainerView, iteration: int, result: EvalResult) -> None: ...

    def on_train_end(self, trainer: TrainerView, result: TrainResult) -> None: ...


class EarlyStopping(Callback):
    """Stop when validation has not improved for ``patience`` validations in a row."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_validation_end(self, trainer: TrainerView, iteration: int, result: EvalResult) -> None:
        if trainer.state.bad_validations >= self.patience:
            raise StopTraining(f"no validation improvement in {self.patience} validations")
