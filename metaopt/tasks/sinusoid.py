"""Sinusoid regression exactly as in Finn et al. 2017 (MAML), section 5.1."""

from __future__ import annotations

import math

import numpy as np
import torch

from metaopt.tasks.base import Task, TaskSource

__all__ = ["SinusoidTasks", "AMPLITUDE", "PHASE", "X_RANGE"]

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)


class SinusoidTasks(TaskSource):
    """y = A sin(x - phase), A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5]; K support points.

    Every split draws from the same continuous task distribution (as in the paper); splits
    differ only by seed stream.
    """

    kind = "regression"
    n_way = None

    def __init__(self, shots: int, queries: int) -> None:
        self.shots = shots
        self.queries = queries

    def sample(self, rng: np.random.Generator) -> Task:
        amplitude = rng.uniform(*AMPLITUDE)
        phase = rng.uniform(*PHASE)
        x = rng.uniform(*X_RANGE, size=(self.shots + self.queries, 1))
        y = amplitude * np.sin(x - phase)
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32)
        k = self.shots
        return Task(xt[:k], yt[:k], xt[k:], yt[k:], kind="regression")
