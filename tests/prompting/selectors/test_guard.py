"""The guard on selector training: steps and temperature chosen on held-out feedback, 0 steps (kNN) included."""

from __future__ import annotations

import numpy as np
import torch

from prompting.selectors import make_selector
from prompting.selectors._feedback import Feedback
from prompting.selectors._scorer import FeedbackTensors, guarded_scorer, ranking_value


class TableEncoder:
    """Fixed vectors by text: every query sits at the same point; candidate ``a`` is nearer it than ``b``."""

    dim = 4

    def __init__(self) -> None:
        q = torch.tensor([1.0, 0.0, 0.0, 0.0])
        self.vectors = {"a": torch.tensor([0.9, 0.43, 0.0, 0.0]), "b": torch.tensor([0.8, 0.0, 0.6, 0.0]),
                        "c": torch.tensor([0.0, 0.0, 0.0, 1.0])}
        self.vectors.update({f"q{i}": q for i in range(16)})

    def encode(self, texts):
        return torch.nn.functional.normalize(torch.stack([self.vectors[t] for t in texts]), dim=-1)


def _feedback(prefers_b, groups=16):
    """16 queries in ``groups`` groups (tasks); ``prefers_b(group)``: did the LM find ``b`` more useful than ``a``."""
    out = []
    for i in range(16):
        g = i % groups
        gains = np.array([0.0, 1.0, -1.0]) if prefers_b(g) else np.array([1.0, 0.0, -1.0])
        out.append(Feedback(f"q{i}", ("a", "b", "c"), gains, group=g))
    return out


def test_training_that_hurts_validation_is_rolled_back_to_the_knn_start():
    """Two tasks, one preferring a (kNN's first), one b, with queries that look the same: trained on the
    b task, the scorer is wrong on the a task; trained on the a task it gains nothing on the b task. Training
    hurts the held-out value, so the guard keeps the start (identity: kNN's ranking)."""
    enc = TableEncoder()
    fb = _feedback(lambda g: g == 1, groups=2)
    scorer, report = guarded_scorer(fb, enc, steps=80, folds=2, lr=0.05, seed=0)
    assert report.steps == 0 and scorer.is_identity()
    base = report.table[(0.1, 0)]
    assert min(report.table.values()) < base  # some training did hurt validation, and was not taken
    data = FeedbackTensors.build(fb, enc)
    assert ranking_value(scorer, data, 1) == ranking_value(type(scorer)(enc.dim), data, 1)


def test_training_that_helps_validation_is_kept():
    enc = TableEncoder()
    fb = _feedback(lambda g: True)  # every query is helped more by b, which kNN ranks second
    scorer, report = guarded_scorer(fb, enc, steps=80, folds=4, lr=0.05, seed=0)
    assert report.steps > 0 and report.gain > 0 and not scorer.is_identity()
    data = FeedbackTensors.build(fb, enc)
    assert ranking_value(scorer, data, 1) == 1.0  # b now ranks first for every query
    assert sum(p.numel() for p in scorer.parameters()) == enc.dim * (1 + 2 * 4) + 1  # few parameters


class FlatLM:
    """An LM on which no demonstration changes anything: feedback carries no signal."""

    def label_logprobs(self, prompts, continuations):
        return torch.log_softmax(torch.zeros(len(prompts), len(continuations)), dim=-1)


def test_learned_without_signal_stays_knn(family, fake_encoder):
    task = family.tasks("test", 1, 0, ways=4, pool_per_class=6, queries_per_class=3)[0]
    labels = dict(zip(task.classes, task.verbalisers))
    knn = make_selector("knn").fit(task.pool, lm=FlatLM(), labels=labels, encoder=fake_encoder)
    for params in ({"steps": 60}, {"steps": 0}):
        learned = make_selector("learned", **params).fit(task.pool, lm=FlatLM(), labels=labels,
                                                         encoder=fake_encoder, seed=1)
        assert learned.report.steps == 0
        for q in task.queries:
            assert learned.select(q.text, 4) == knn.select(q.text, 4)
