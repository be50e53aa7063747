"""Type aliases shared across metaopt."""

from __future__ import annotations

from typing import Literal

TaskKind = Literal["classification", "regression", "rl"]
Split = Literal["train", "val", "test"]
InnerOptimizer = Literal["sgd", "momentum", "adam"]
# Inner-loop engines a user may name (``auto`` is batched); here, not in metaopt.engines, so that the
# command line can offer them without importing torch.
ENGINE_CHOICES: tuple[str, ...] = ("auto", "batched", "higher")

__all__ = ["TaskKind", "Split", "InnerOptimizer", "ENGINE_CHOICES"]
