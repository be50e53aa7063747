"""The recurrent actor-critic of RL^2: a GRU whose hidden state is the agent's memory of the task."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RecurrentPolicy"]


class RecurrentPolicy(nn.Module):
    """GRU cell over (observation, previous action, previous reward, previous done) with policy
    and value heads. The caller carries ``hidden`` across episodes of one task and resets it
    only between tasks, as RL^2 does."""

    def __init__(self, in_features: int, n_actions: int, hidden: int = 64) -> None:
        super().__init__()
        self.in_features = in_features
        self.n_actions = n_actions
        self.hidden_size = hidden
        self.cell = nn.GRUCell(in_features, hidden)
        self.policy = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1)

    def initial_state(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hidden_size)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (action logits ``[B, A]``, value ``[B]``, next hidden state)."""
        h = self.cell(x, hidden)
        return self.policy(h), self.value(h).squeeze(-1), h
