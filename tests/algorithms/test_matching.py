"""Matching Networks: attention is a distribution, log-probabilities are its mass per class, FCE runs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metaopt.algorithms import build_config
from metaopt.algorithms.matching import MatchingNet, matching_attention, matching_log_probs
from metaopt.errors import ConfigError
from metaopt.models import MLP
from metaopt.tasks.base import Task


def test_attention_rows_sum_to_one_and_favour_the_most_similar_support():
    torch.manual_seed(0)
    query, support = torch.randn(6, 4), torch.randn(9, 4)
    attention = matching_attention(query, support)
    torch.testing.assert_close(attention.sum(-1), torch.ones(6))
    cosine = nn.functional.cosine_similarity(query.unsqueeze(1), support.unsqueeze(0), dim=-1)
    assert torch.equal(attention.argmax(-1), cosine.argmax(-1))


def test_log_probs_are_the_attention_mass_on_each_class():
    torch.manual_seed(1)
    query, support = torch.randn(5, 3), torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    attention = matching_attention(query, support)
    expected = torch.stack([attention[:, labels == c].sum(-1) for c in range(3)], dim=-1)
    probs = matching_log_probs(query, support, labels, 3).exp()
    torch.testing.assert_close(probs, expected)
    torch.testing.assert_close(probs.sum(-1), torch.ones(5))


def test_cosine_scale_sharpens_the_attention_without_changing_its_order():
    torch.manual_seed(2)
    query, support = torch.randn(4, 5), torch.randn(6, 5)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    plain, sharp = matching_attention(query, support), matching_attention(query, support, scale=10.0)
    assert torch.equal(plain.argmax(-1), sharp.argmax(-1))
    assert bool((sharp.max(-1).values > plain.max(-1).values).all())
    # 10x the cosines is exactly the paper's formula at temperature 1/10.
    cosine = nn.functional.cosine_similarity(query.unsqueeze(1), support.unsqueeze(0), dim=-1)
    torch.testing.assert_close(sharp, (10 * cosine).softmax(-1))
    probs = matching_log_probs(query, support, labels, 3, scale=10.0).exp()
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))


def _task(seed: int = 0) -> Task:
    g = torch.Generator().manual_seed(seed)
    return Task(torch.randn(6, 4, generator=g), torch.tensor([0, 0, 1, 1, 2, 2]), torch.randn(3, 4, generator=g),
                torch.tensor([0, 1, 2]), "classification", 3)


@pytest.mark.parametrize("fce", [False, True])
def test_predictions_are_log_probabilities_and_gradients_reach_every_parameter(fce):
    torch.manual_seed(0)
    config = build_config("matching", {"fce": fce, "fce_steps": 2})
    learner = MatchingNet(MLP(4, (8,), head=False), config, "classification")
    torch.testing.assert_close(learner.predict(_task()).exp().sum(-1), torch.ones(3))
    learner.meta_loss(_task(), 0).backward()
    assert all(p.grad is not None for p in learner.parameters())
    assert any(n.startswith("query_context") for n, _ in learner.named_parameters()) == fce


def test_full_context_embeddings_depend_on_the_whole_support_set():
    torch.manual_seed(0)
    learner = MatchingNet(MLP(4, (8,), head=False), build_config("matching", {"fce": True}), "classification")
    task = _task()
    shuffled = Task(task.support_x.flip(0), task.support_y.flip(0), task.query_x, task.query_y, "classification", 3)
    # The plain model is order-free; the bidirectional LSTM over the support set is not.
    assert not torch.allclose(learner.predict(task), learner.predict(shuffled))


def test_rejects_bad_options():
    with pytest.raises(ConfigError, match="fce_steps"):
        build_config("matching", {"fce_steps": 0})
    with pytest.raises(ConfigError, match="fce"):
        build_config("matching", {"fce": "yes"})
    with pytest.raises(ConfigError, match="cosine_scale"):
        build_config("matching", {"cosine_scale": 0.0})


def test_full_context_embeddings_learn_on_easy_classification(class_sources):
    from metaopt.models import default_model
    from metaopt.trainer import MetaTrainer, TrainConfig

    torch.manual_seed(0)
    config = build_config("matching", {"fce": True})
    learner = MatchingNet(default_model((1, 16, 16), 2, **MatchingNet.model_options(config)), config, "classification")
    tasks = class_sources["val"].fixed_tasks(30, 1)

    def query_loss() -> float:
        return sum(float(learner.loss(learner.predict(t), t.query_y)) for t in tasks) / len(tasks)

    before = query_loss()
    MetaTrainer(learner, class_sources, TrainConfig(iterations=20, meta_batch=4, val_every=20, val_tasks=10),
                progress=False).fit()
    assert query_loss() < 0.8 * before
