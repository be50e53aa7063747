"""A mean-field Gaussian over the weights of any model, sampled by reparameterisation.

``GaussianWeights(model)`` owns a mean and a log standard deviation for every parameter of
``model`` (registered on itself, so ``higher`` can patch and adapt both) and runs a private copy
of ``model``'s architecture functionally with sampled weights. This is the variational family
of ABML (Ravi & Beatson 2019) and of Bayes-by-backprop (Blundell et al. 2015).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["GaussianWeights", "gaussian_kl"]


def _key(name: str) -> str:
    return name.replace(".", "__")


class GaussianWeights(nn.Module):
    """N(mean, exp(log_sigma)^2) independently per weight; means start at ``model``'s weights."""

    def __init__(self, model: nn.Module, init_log_sigma: float = -4.0) -> None:
        super().__init__()
        # The template is hidden in a list so its own parameters are not part of this module:
        # only the means and log-sigmas are (meta-)learned.
        self._template = [copy.deepcopy(model).requires_grad_(False)]
        self.names = [name for name, _ in model.named_parameters()]
        for name, p in model.named_parameters():
            self.register_parameter("mean__" + _key(name), nn.Parameter(p.detach().clone()))
            self.register_parameter("logsig__" + _key(name), nn.Parameter(torch.full_like(p, init_log_sigma)))

    def means(self) -> list[torch.Tensor]:
        return [getattr(self, "mean__" + _key(n)) for n in self.names]

    def log_sigmas(self) -> list[torch.Tensor]:
        return [getattr(self, "logsig__" + _key(n)) for n in self.names]

    def forward(self, x: torch.Tensor, step: int = 0, samples: int = 1, mean_only: bool = False) -> torch.Tensor:
        """Outputs ``[samples, N, out]``, one forward per weight sample (``mean_only``: the means, once)."""
        outs = []
        for _ in range(1 if mean_only else samples):
            weights = {}
            for name, mu, log_sigma in zip(self.names, self.means(), self.log_sigmas()):
                weights[name] = mu if mean_only else mu + log_sigma.exp() * torch.randn_like(mu)
            outs.append(functional_call(self._template[0], weights, (x, step)))
        return torch.stack(outs)


def gaussian_kl(q: GaussianWeights, p: GaussianWeights) -> torch.Tensor:
    """KL(q || p) summed over all weights, both mean-field Gaussians over the same architecture."""
    # Read by attribute, not through q's methods: q may be an adapted functional view of the module.
    names = ["mean__" + _key(n) for n in p.names], ["logsig__" + _key(n) for n in p.names]
    q_means, q_sigmas = ([getattr(q, n) for n in group] for group in names)
    total = torch.zeros(())
    for mq, lq, mp, lp in zip(q_means, q_sigmas, p.means(), p.log_sigmas()):
        total = total + (lp - lq + ((2 * lq).exp() + (mq - mp) ** 2) / (2 * (2 * lp).exp()) - 0.5).sum()
    return total
