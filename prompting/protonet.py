"""The meta-learning column: metaopt's registered ProtoNets on frozen sentence embeddings.

The learner meta-trains an MLP embedding over MiniLM vectors on episodes of the family's meta-training
classes, then classifies a test task's queries by distance to class means of the support examples the
selectors draw from, so in-context learning and meta-learning see the same labelled data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from metaopt.tasks.base import Task
from prompting.encoder import TextEncoder
from prompting.tasks.base import Example, TaskFamily, TextTask

__all__ = ["meta_train_protonet", "protonet_accuracy", "balanced_support"]


def meta_train_protonet(family: TaskFamily, encoder: TextEncoder, *, seed: int, ways: int, shots: int,
                        iterations: int = 300, per_class: int = 40, lr: float = 1e-3) -> torch.nn.Module:
    """Episodes from ``per_class`` embedded texts of each meta-training class (embedding is the cost)."""
    from metaopt.algorithms import build_config, get_learner
    from metaopt.models import MLP

    rng = np.random.default_rng([seed, 53])
    classes = family.classes("train")
    banks = []
    for c in classes:
        texts = family.texts[c]
        picks = rng.choice(len(texts), size=min(per_class, len(texts)), replace=False)
        banks.append(encoder.encode([texts[int(i)] for i in picks]))
    torch.manual_seed(seed)
    model = MLP(encoder.dim, (256,), 0, head=False)
    learner = get_learner("protonet")(model, build_config("protonet"), "classification")
    learner.begin_training(iterations)
    opt = torch.optim.Adam(learner.parameters(), lr=lr)
    queries = 4
    usable = [i for i, b in enumerate(banks) if len(b) >= shots + queries]
    for it in range(iterations):
        chosen = rng.choice(usable, size=min(ways, len(usable)), replace=False)
        sx, sy, qx, qy = [], [], [], []
        for label, c in enumerate(chosen):
            idx = rng.choice(len(banks[c]), size=shots + queries, replace=False)
            sx.append(banks[c][idx[:shots]])
            qx.append(banks[c][idx[shots:]])
            sy += [label] * shots
            qy += [label] * queries
        task = Task(torch.cat(sx), torch.tensor(sy), torch.cat(qx), torch.tensor(qy), "classification", len(chosen))
        learner.meta_step([task], opt, it)
    return learner.eval()


def balanced_support(task: TextTask, k: int, seed: int) -> list[Example]:
    """``k`` pool examples taken round-robin over the classes in a seeded order (all of the pool if larger)."""
    rng = np.random.default_rng([seed, 59])
    by_class = {c: [e for e in task.pool if e.label == c] for c in task.classes}
    for c in by_class:
        by_class[c] = [by_class[c][int(i)] for i in rng.permutation(len(by_class[c]))]
    order, out = [task.classes[int(i)] for i in rng.permutation(len(task.classes))], []
    while len(out) < min(k, len(task.pool)):
        for c in order:
            if by_class[c] and len(out) < k:
                out.append(by_class[c].pop())
    return out


def protonet_accuracy(learner: torch.nn.Module | None, encoder: TextEncoder, task: TextTask,
                      support: Sequence[Example]) -> float:
    """Query accuracy with ``support`` as labelled examples; ``learner=None`` is nearest class mean on raw
    embeddings. Classes absent from the support can never be predicted."""
    from metaopt.algorithms.protonet import prototype_logits

    sx = encoder.encode([e.text for e in support])
    qx = encoder.encode([e.text for e in task.queries])
    if learner is not None:
        with torch.no_grad():
            sx, qx = learner.model(sx), learner.model(qx)
    sy = torch.tensor([task.label_index(e) for e in support])
    protos = torch.stack([sx[sy == c].mean(0) if (sy == c).any() else torch.full_like(sx[0], float("nan"))
                          for c in range(len(task.classes))])
    logits = prototype_logits(qx, protos).nan_to_num(nan=-float("inf"))
    gold = torch.tensor([task.label_index(e) for e in task.queries])
    return float((logits.argmax(-1) == gold).float().mean())
