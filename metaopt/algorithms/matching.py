"""Matching Networks (Vinyals et al. 2016): attention over the support set's labels.

A query's class distribution is ``sum_i a(x, x_i) y_i`` with ``a`` the softmax of cosine
similarities between the query's and the support examples' embeddings (unscaled by default, as in
the paper). Predictions are log-probabilities, so the default cross-entropy is the paper's negative
log-likelihood. ``cosine_scale`` multiplies the cosines before the softmax: unscaled cosines lie in
[-1, 1], which caps a 5-way 1-shot episode's probability of the right class near 0.65 however good
the embedding is, so the loss keeps pushing; a scale such as 10 (ProtoNets' cosine option, TADAM's
metric scaling) lifts that cap.

``fce=True`` adds full-context embeddings: each support embedding is refined by a bidirectional
LSTM over the support set (``g(x_i) = g'(x_i) + h_fwd_i + h_bwd_i``), and each query by
``fce_steps`` steps of an attention LSTM that reads the support set. The paper feeds the LSTM the
concatenation ``[h, r]`` of its state and read-out; we feed their sum, which keeps the hidden size
equal to the embedding size (as common reimplementations do).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms.base import LearnerConfig, register
from metaopt.algorithms.metric import MetricLearner, embedding_dim, episode_ways
from metaopt.errors import ConfigError
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["MatchingNet", "MatchingConfig", "matching_attention", "matching_log_probs"]


@dataclasses.dataclass
class MatchingConfig(LearnerConfig):
    fce: bool = False
    fce_steps: int = 5
    cosine_scale: float = 1.0  # the paper's unscaled cosine attention

    def validate(self) -> None:
        if not self.cosine_scale > 0:
            raise ConfigError(f"cosine_scale must be positive, got {self.cosine_scale}")
        if not isinstance(self.fce, bool):
            raise ConfigError(f"fce must be true or false, got {self.fce!r}")
        if self.fce_steps < 1:
            raise ConfigError(f"fce_steps must be at least 1, got {self.fce_steps}")


def _cosines(query: torch.Tensor, support: torch.Tensor, scale: float) -> torch.Tensor:
    return scale * F.normalize(query, dim=-1) @ F.normalize(support, dim=-1).T


def matching_attention(query: torch.Tensor, support: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``[n_query, n_support]`` softmax over ``scale`` times cosine similarities; each row sums to 1."""
    return F.softmax(_cosines(query, support, scale), dim=-1)


def matching_log_probs(
    query: torch.Tensor, support: torch.Tensor, support_y: torch.Tensor, n_way: int, scale: float = 1.0
) -> torch.Tensor:
    """``[n_query, n_way]`` log of the attention mass on each class's support examples."""
    log_attention = F.log_softmax(_cosines(query, support, scale), dim=-1)
    # log-sum-exp within each class instead of log(sum): no log(0) and exact gradients.
    in_class = F.one_hot(support_y, n_way).T.bool()  # [n_way, n_support]
    masked = log_attention.unsqueeze(1).masked_fill(~in_class, float("-inf"))
    return masked.logsumexp(-1)


class _SupportContext(nn.Module):
    """g: a bidirectional LSTM over the support set, added to the plain embeddings."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, bidirectional=True, batch_first=True)

    def forward(self, support: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(support.unsqueeze(0))
        forward, backward = out[0].chunk(2, dim=-1)
        return support + forward + backward


class _QueryContext(nn.Module):
    """f: an LSTM that attends over the (context-embedded) support set for ``steps`` steps."""

    def __init__(self, dim: int, steps: int) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(dim, dim)
        self.steps = steps

    def forward(self, query: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
        h = query
        c = torch.zeros_like(query)
        for _ in range(self.steps):
            readout = F.softmax(h @ support.T, dim=-1) @ support
            h_hat, c = self.cell(query, (h + readout, c))
            h = h_hat + query
        return h


@register
class MatchingNet(MetricLearner):
    """Matching Networks (Vinyals et al. 2016): cosine attention over the support set's labels."""

    name = "matching"
    Config = MatchingConfig
    config: MatchingConfig

    def __init__(self, model: nn.Module, config: MatchingConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        if config.fce:
            dim = embedding_dim(model, self.name)
            self.support_context = _SupportContext(dim)
            self.query_context = _QueryContext(dim, config.fce_steps)

    def episode_scores(self, task: Task) -> torch.Tensor:
        support, query = self.embed_episode(task)
        if self.config.fce:
            support = self.support_context(support)
            query = self.query_context(query, support)
        return matching_log_probs(query, support, task.support_y, episode_ways(task), self.config.cosine_scale)
