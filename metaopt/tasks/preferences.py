"""A seeded synthetic user population for personalisation: each user is a regression task.

A fixed catalogue of ``n_items`` items has feature vectors ``f_i ~ N(0, I_d)``. A user belongs to
one of ``clusters`` taste groups (centres ``c_k ~ N(0, I_d)``) and has preferences
``w_u = c_k + spread * N(0, I_d)``; the user's star rating of item i is
``clip(round(3 + scale * w_u . f_i / sqrt(d) + noise), 1, 5)``. A task shows ``shots`` rated items
(support: the user's few ratings) and asks to rank ``queries`` other items (query: their
noise-free ratings, the relevance for NDCG). Catalogue and taste centres depend only on
``world_seed``, so every split shares them while each task draws a fresh user.
"""

from __future__ import annotations

import numpy as np
import torch

from metaopt.errors import ConfigError
from metaopt.tasks.base import Task, TaskSource

__all__ = ["PreferenceUsers"]


class PreferenceUsers(TaskSource):
    kind = "regression"
    n_way = None

    def __init__(
        self, shots: int = 10, queries: int = 50, *, n_items: int = 200, dim: int = 6, clusters: int = 4,
        spread: float = 0.5, scale: float = 1.5, noise: float = 0.5, world_seed: int = 0,
    ) -> None:
        if shots < 1 or queries < 1 or shots + queries > n_items:
            raise ConfigError(f"need 1 <= shots, 1 <= queries and shots+queries <= {n_items} items, "
                              f"got shots={shots}, queries={queries}")
        world = np.random.default_rng(world_seed)
        self.items = world.standard_normal((n_items, dim)).astype(np.float32)
        self.centres = world.standard_normal((clusters, dim))
        self.shots, self.queries = shots, queries
        self.dim, self.spread, self.scale, self.noise = dim, spread, scale, noise

    def _stars(self, utility: np.ndarray) -> np.ndarray:
        return np.clip(np.round(3 + utility), 1, 5)

    def sample(self, rng: np.random.Generator) -> Task:
        centre = self.centres[rng.integers(len(self.centres))]
        w = centre + self.spread * rng.standard_normal(self.dim)
        utility = self.scale * self.items @ w / np.sqrt(self.dim)
        picked = rng.choice(len(self.items), size=self.shots + self.queries, replace=False)
        s, q = picked[: self.shots], picked[self.shots :]
        observed = self._stars(utility[s] + self.noise * rng.standard_normal(len(s)))
        x = torch.from_numpy(self.items)
        return Task(x[s], torch.as_tensor(observed, dtype=torch.float32)[:, None], x[q],
                    torch.as_tensor(self._stars(utility[q]), dtype=torch.float32)[:, None], kind="regression")
