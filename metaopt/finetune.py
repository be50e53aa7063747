"""Task-aware fine-tuning: start ordinary fine-tuning on a target task from a meta-learned init.

Three starting points are compared on the same target tasks (``finetune_curve``): a
meta-learned initialisation (a MAML or Reptile run's model, head included, as MAML adapts it),
a random initialisation, and ordinary supervised pre-training on the pooled meta-training
classes (``pretrain_pooled``) with a fresh N-way head. Each is fine-tuned with full-batch Adam on
the first ``k`` examples per class of the target task's training pool and scored on its held-out
examples after each of a list of step counts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from metaopt.errors import ConfigError
from metaopt.tasks.base import ClassDataset, Task

__all__ = ["first_k_per_class", "finetune_scores", "pretrain_pooled", "with_new_head", "finetune_curve"]


def first_k_per_class(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``k`` examples of every label in ``y`` (a nested family: k=1 ⊂ k=5 ⊂ ...)."""
    idx = torch.cat([torch.nonzero(y == c).flatten()[:k] for c in torch.unique(y)])
    if len(idx) < k * len(torch.unique(y)):
        raise ConfigError(f"the target task holds fewer than {k} training examples of some class")
    return x[idx], y[idx]


def finetune_scores(
    model: nn.Module, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
    *, steps: Sequence[int], lr: float = 1e-3,
) -> list[float]:
    """Fine-tune a copy of ``model`` with full-batch Adam; test accuracy after each count in ``steps``."""
    model = copy.deepcopy(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scores, done = [], 0
    for target in sorted(steps):
        while done < target:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(train_x), train_y).backward()
            optimizer.step()
            done += 1
        with torch.no_grad():
            scores.append(float((model(test_x).argmax(-1) == test_y).float().mean()))
    return scores


def with_new_head(model: nn.Module, ways: int, seed: int) -> nn.Module:
    """A copy of ``model`` whose linear ``head`` is re-initialised with ``ways`` outputs."""
    model = copy.deepcopy(model)
    torch.manual_seed(seed)
    model.head = nn.Linear(model.head.in_features, ways)
    return model


def pretrain_pooled(
    make_model: Callable[[int], nn.Module], dataset: ClassDataset, classes: Sequence[int], *, steps: int,
    batch: int = 64, lr: float = 1e-3, seed: int = 0, progress: bool = False,
) -> nn.Module:
    """Ordinary supervised training of ``make_model(len(classes))`` on all images of ``classes``."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = make_model(len(classes))
    remap = {c: i for i, c in enumerate(classes)}
    pool = np.concatenate([dataset.indices_by_class()[c] for c in classes])
    labels = torch.as_tensor([remap[int(c)] for c in dataset.labels[pool]])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="pooled pre-training")
    for _ in iterator:
        pick = rng.integers(len(pool), size=batch)
        x = torch.from_numpy(dataset.images[pool[pick]]).float().div_(255.0)
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels[pick]).backward()
        optimizer.step()
    return model


def finetune_curve(
    inits: dict[str, nn.Module], tasks: Sequence[Task], *, shots: Sequence[int], steps: Sequence[int],
    lr: float = 1e-3, progress: bool = False,
) -> dict[str, dict[int, list[list[float]]]]:
    """``result[init][k][i]`` = the accuracies on task ``i`` after each count in ``steps``, fine-tuned
    on ``k`` examples per class. A task's support set is its training pool, its query set the test."""
    jobs = [(name, k, i) for name in inits for k in shots for i in range(len(tasks))]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="fine-tuning")
    out: dict[str, dict[int, list[list[float]]]] = {name: {k: [] for k in shots} for name in inits}
    for name, k, i in jobs:
        task = tasks[i]
        x, y = first_k_per_class(task.support_x, task.support_y, k)
        out[name][k].append(finetune_scores(inits[name], x, y, task.query_x, task.query_y, steps=steps, lr=lr))
    return out
