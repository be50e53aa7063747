"""Type aliases shared across metaopt."""

from __future__ import annotations

from typing import Literal

TaskKind = Literal["classification", "regression", "rl"]
Split = Literal["train", "val", "test"]
InnerOptimizer = Literal["sgd", "momentum", "adam"]

__all__ = ["TaskKind", "Split", "InnerOptimizer"]
