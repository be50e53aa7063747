"""Classification problems: seeded disjoint splits and batch schedules, offline sources."""

from __future__ import annotations

import os

import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.hyper.problems import load_problem
from metaopt.hyper.runner import train_fixed


def test_digits_splits_are_disjoint_seeded_and_batches_repeat():
    a, b = load_problem("digits", seed=3), load_problem("digits", seed=3)
    assert len(a.train_y) == 1000 and len(a.val_y) == 400 and len(a.test_y) == 397
    assert torch.equal(a.val_x, b.val_x)
    rows = {tuple(r.tolist()) for r in a.train_x} & {tuple(r.tolist()) for r in a.test_x}
    assert len(rows) < 5  # digits holds a few exact duplicate images; the index split itself is disjoint
    assert torch.equal(a.batch(0, 7)[0], b.batch(0, 7)[0]) and not torch.equal(a.batch(0, 7)[0], a.batch(0, 8)[0])


def test_fixed_training_learns_digits():
    problem = load_problem("digits", hidden=16)
    before = problem.evaluate(problem.model(0))["loss"]
    result = train_fixed(problem, lr=0.1, momentum=0.9, steps=100)
    assert result.scores["val_loss"] < before / 3 and result.scores["val_accuracy"] > 0.85


def test_bad_problem_requests():
    with pytest.raises(ConfigError, match="unknown problem 'mnist'"):
        load_problem("mnist")
    with pytest.raises(ConfigError, match="leaves no test set"):
        load_problem("digits", n_train=1500, n_val=400)


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"), reason="dataset-fashion-mnist missing")
def test_fashion_mnist_problem_from_debian():
    problem = load_problem("fashion-mnist", n_train=500, n_val=200)
    assert problem.train_x.shape == (500, 784) and problem.num_classes == 10 and len(problem.test_y) == 5000
    assert 0 <= float(problem.train_x.min()) and float(problem.train_x.max()) <= 1
