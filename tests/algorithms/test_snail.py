"""SNAIL: label-late episode sequences, causality, and what it refuses."""

from __future__ import annotations

import pytest
import torch

from metaopt.algorithms import SNAIL, build_config
from metaopt.algorithms.snail import shifted_label_sequences
from metaopt.errors import ConfigError
from metaopt.models import MLP, Conv4
from metaopt.tasks.base import Task


def test_each_label_arrives_one_step_after_its_input_and_no_query_sees_its_own():
    support = torch.arange(3.0).repeat_interleave(2).view(3, 2)  # row i is [i, i]
    support_y = torch.tensor([2, 0, 1])
    query = torch.full((2, 2), 9.0)
    order = torch.tensor([1, 2, 0])
    seq = shifted_label_sequences(support, support_y, query, 3, order)
    assert seq.shape == (2, 4, 5)
    for q in range(2):
        torch.testing.assert_close(seq[q, :3, :2], support[order])
        torch.testing.assert_close(seq[q, 3, :2], query[q])
        labels = seq[q, :, 2:]
        assert labels[0].abs().sum() == 0  # the first position has the null label
        for t in range(1, 4):  # position t carries the label of position t - 1's input
            assert labels[t].argmax() == support_y[order[t - 1]] and labels[t].sum() == 1
    # the query position carries the last support label, so it never reveals the query's own class


def _learner(ways=3):
    torch.manual_seed(0)
    return SNAIL(Conv4(1, ways, image_size=16, hidden=8), build_config("snail"), "classification")


def test_the_sequence_model_is_causal():
    learner = _learner()
    channels = learner.model.head.in_features + learner.n_way
    x = torch.randn(2, 6, channels)
    out = learner.snail(x)
    changed = x.clone()
    changed[:, 4] += 1.0
    later = learner.snail(changed)
    torch.testing.assert_close(later[:, :4], out[:, :4])
    assert not torch.allclose(later[:, 4:], out[:, 4:])


def _task(ways=3, query_y=None):
    g = torch.Generator().manual_seed(3)
    y = torch.arange(ways)
    return Task(torch.rand(ways, 1, 16, 16, generator=g), y, torch.rand(ways, 1, 16, 16, generator=g),
                y if query_y is None else query_y, "classification", ways)


def test_predictions_ignore_query_labels_and_are_deterministic():
    learner = _learner()
    a = learner.predict(_task())
    b = learner.predict(_task(query_y=torch.tensor([2, 2, 0])))
    assert a.shape == (3, 3) and torch.equal(a, b)


def test_meta_loss_trains_encoder_and_attention():
    learner = _learner()
    learner.meta_loss(_task(), 0).backward()
    assert learner.model.features.blocks[0].conv.weight.grad.abs().sum() > 0
    assert learner.snail[0].query.weight.grad.abs().sum() > 0
    assert learner.model.head.weight.grad is None  # the Conv4 head is not part of SNAIL


def test_refuses_regression_other_ways_and_headless_models():
    with pytest.raises(ConfigError, match="snail cannot learn regression"):
        SNAIL(MLP(1, (8,), 1), build_config("snail"), "regression")
    with pytest.raises(ConfigError, match="built for 3-way"):
        _learner(3).predict(_task(5))
    with pytest.raises(ConfigError, match="features"):
        SNAIL(torch.nn.Linear(2, 2), build_config("snail"), "classification")
    with pytest.raises(ConfigError, match="filters"):
        build_config("snail", {"filters": 0})


def test_cli_refuses_a_regression_benchmark_with_one_line(capsys):
    from metaopt.cli import main

    try:
        code = main(["train", "--algorithm", "snail", "--benchmark", "sinusoid", "--iterations", "1"])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "snail" in lines[0] and "regression" in lines[0], err
