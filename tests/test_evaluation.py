"""Calibration: expected calibration error against hand computations, pooled over tasks."""

from __future__ import annotations

import pytest
import torch

from metaopt.errors import ConfigError
from metaopt.evaluation import evaluate_calibration, expected_calibration_error
from metaopt.tasks.base import Task


def test_ece_hand_computed():
    # Two bins used: confidence 0.9 (2 of 4 right) and 0.6 (both right).
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.4, 0.6], [0.6, 0.4], [0.9, 0.1]])
    labels = torch.tensor([0, 1, 0, 1, 0, 0])
    # bin (0.8667, 0.9333]: 4 predictions at 0.9, correct 2/4 -> gap 0.4, weight 4/6
    # bin (0.5333, 0.6]: 2 predictions at 0.6, both correct -> gap 0.4, weight 2/6
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)


def test_ece_is_zero_when_confidence_equals_accuracy():
    probs = torch.tensor([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, torch.tensor([0, 0, 0, 1])) == pytest.approx(0.0, abs=1e-6)


class _FixedLearner(torch.nn.Module):
    """Always says class 0 with probability 0.8."""

    kind = "classification"

    def predict(self, task, steps=None):
        return torch.tensor([[0.8, 0.2]]).log().expand(len(task.query_y), 2)


def test_evaluate_calibration_pools_query_sets():
    tasks = [Task(torch.zeros(1), torch.zeros(1), torch.zeros(2), torch.tensor(y), "classification", 2)
             for y in ([0, 0], [0, 1])]
    result = evaluate_calibration(_FixedLearner(), tasks)
    assert result["accuracy"] == pytest.approx(0.75) and result["ece"] == pytest.approx(0.05)
    learner = _FixedLearner()
    learner.kind = "regression"
    with pytest.raises(ConfigError, match="classification"):
        evaluate_calibration(learner, tasks)


def test_ndcg_hand_computed_and_ideal():
    from metaopt.evaluation import ndcg_at_k

    rel = torch.tensor([3.0, 2.0, 0.0, 1.0])
    assert ndcg_at_k(rel, rel, 10) == pytest.approx(1.0)
    # Ranking [2, 0, 3, 1] by score puts relevances 0, 3, 1, 2 in order.
    scores = torch.tensor([0.9, 0.1, 1.0, 0.5])
    import math

    dcg = 0 / math.log2(2) + 7 / math.log2(3) + 1 / math.log2(4) + 3 / math.log2(5)
    idcg = 7 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4) + 0
    assert ndcg_at_k(scores, rel, 10) == pytest.approx(dcg / idcg, rel=1e-5)
    assert ndcg_at_k(scores, rel, 1) == pytest.approx(0.0)
