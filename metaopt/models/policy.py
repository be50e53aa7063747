"""A feed-forward stochastic policy for policy-gradient MAML: categorical or diagonal Gaussian.

``forward`` returns the distribution's parameters as one tensor (logits, or mean and log-std side by
side), so a functional copy of the module (the inner loop's adapted weights) gives the adapted
distribution with no attribute lookups outside ``forward``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLPPolicy", "log_prob", "sample_actions"]


class MLPPolicy(nn.Module):
    """ReLU MLP from observations to action logits (``n_actions`` > 0) or Gaussian means (``action_dim``).

    MAML's navigation policy: two hidden layers of 100 units, a state-independent learned log-std.
    An observation of size 0 (a bandit) is replaced by a constant 1, so the policy is a learned bias.
    """

    def __init__(self, obs_size: int, *, n_actions: int = 0, action_dim: int = 0,
                 hidden: tuple[int, ...] = (100, 100), init_log_std: float = 0.0) -> None:
        super().__init__()
        if (n_actions > 0) == (action_dim > 0):
            raise ValueError("give either n_actions (discrete) or action_dim (continuous)")
        self.obs_size = obs_size
        self.continuous = action_dim > 0
        width, layers = max(obs_size, 1), []
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, action_dim if self.continuous else n_actions)
        self.log_std = nn.Parameter(torch.full((action_dim,), init_log_std)) if self.continuous else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.obs_size == 0:
            obs = obs.new_ones(obs.shape[0], 1)
        out = self.out(self.body(obs))
        if self.log_std is not None:
            out = torch.cat([out, self.log_std.expand_as(out)], dim=-1)
        return out


def log_prob(params: torch.Tensor, actions: torch.Tensor, continuous: bool) -> torch.Tensor:
    """Log-probability of ``actions`` under the distribution with parameters ``params`` (``forward``'s output)."""
    if not continuous:
        return F.log_softmax(params, dim=-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    mean, log_std = params.chunk(2, dim=-1)
    z = (actions - mean) / log_std.exp()
    return (-0.5 * z.pow(2) - log_std - 0.5 * torch.log(torch.tensor(2 * torch.pi))).sum(-1)


def sample_actions(params: torch.Tensor, continuous: bool, generator: torch.Generator) -> torch.Tensor:
    """Draw one action per row from ``generator`` (inverse CDF for categorical), so rollouts are seeded."""
    if not continuous:
        cdf = F.softmax(params, dim=-1).cumsum(-1)
        u = torch.rand(params.shape[0], 1, generator=generator)
        return (cdf < u).sum(-1).clamp(max=params.shape[-1] - 1)
    mean, log_std = params.chunk(2, dim=-1)
    return mean + log_std.exp() * torch.randn(mean.shape, generator=generator)
