"""Ordinary (not meta-) training problems whose hyperparameters the gradient methods learn.

A problem is a labelled train/validation/test split of a small dataset plus a model factory and a
seeded minibatch schedule, so every method and every search trial sees identical batches for a
given seed. Sources: scikit-learn's bundled ``digits`` (offline) and Debian's Fashion-MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from metaopt.errors import ConfigError

__all__ = ["ClassificationProblem", "load_problem", "PROBLEMS"]

PROBLEMS = ("digits", "fashion-mnist")


@dataclass
class ClassificationProblem:
    """Train/validation/test tensors, the batch size and a seeded batch schedule."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    batch_size: int = 64
    hidden: int = 64

    @property
    def num_classes(self) -> int:
        return int(self.train_y.max()) + 1

    def model(self, seed: int) -> nn.Module:
        """A one-hidden-layer MLP, initialised from ``seed``."""
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(self.train_x.shape[1], self.hidden), nn.ReLU(),
                              nn.Linear(self.hidden, self.num_classes))
        return model.to(self.train_x.dtype)

    def batch(self, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch of training step ``step``: a function of (seed, step) only, so runs agree."""
        rng = np.random.default_rng([seed, step])
        index = torch.as_tensor(rng.choice(len(self.train_y), size=min(self.batch_size, len(self.train_y)),
                                           replace=False))
        return self.train_x[index], self.train_y[index]

    def val_batch(self, seed: int, step: int, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A validation minibatch (``size=None``: the whole validation set)."""
        if size is None or size >= len(self.val_y):
            return self.val_x, self.val_y
        rng = np.random.default_rng([seed, step, 1])
        index = torch.as_tensor(rng.choice(len(self.val_y), size=size, replace=False))
        return self.val_x[index], self.val_y[index]

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "val") -> dict[str, float]:
        x, y = (self.val_x, self.val_y) if split == "val" else (self.test_x, self.test_y)
        logits = model(x)
        return {"loss": float(F.cross_entropy(logits, y)), "accuracy": float((logits.argmax(-1) == y).float().mean())}


def load_problem(name: str = "digits", *, n_train: int | None = None, n_val: int | None = None, seed: int = 0,
                 dtype: torch.dtype = torch.float32, batch_size: int = 64, hidden: int = 64) -> ClassificationProblem:
    """Load ``name`` and split it at random (``seed``) into train / validation / test.

    digits: 1,797 8x8 images, defaults 1,000 / 400 / rest. fashion-mnist: 70,000 28x28 images,
    defaults 5,000 / 2,000 / 5,000 (a subset: the methods are compared at small budgets).
    """
    if name == "digits":
        from metaopt._imports import require

        data = require("sklearn.datasets", "'metaopt[hyper]' (scikit-learn)").load_digits()
        x, y = data.data.astype(np.float64) / 16.0, data.target.astype(np.int64)
        n_train, n_val, n_test = n_train or 1000, n_val or 400, None
    elif name == "fashion-mnist":
        from metaopt.tasks.fashion_mnist import load_fashion_mnist

        ds = load_fashion_mnist()
        x, y = ds.images.reshape(len(ds.images), -1).astype(np.float64) / 255.0, ds.labels
        n_train, n_val, n_test = n_train or 5000, n_val or 2000, 5000
    else:
        raise ConfigError(f"unknown problem {name!r}; choose from {', '.join(PROBLEMS)}")
    if n_train + n_val >= len(y):
        raise ConfigError(f"{name} has {len(y)} examples; n_train={n_train} plus n_val={n_val} leaves no test set")
    order = np.random.default_rng(seed).permutation(len(y))
    end = len(y) if n_test is None else min(len(y), n_train + n_val + n_test)
    parts = np.split(order[:end], [n_train, n_train + n_val])

    def take(index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.as_tensor(x[index], dtype=dtype), torch.as_tensor(y[index])

    (tx, ty), (vx, vy), (sx, sy) = map(take, parts)
    return ClassificationProblem(name, tx, ty, vx, vy, sx, sy, batch_size=batch_size, hidden=hidden)
