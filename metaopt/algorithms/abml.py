"""ABML, Amortized Bayesian Meta-Learning (Ravi & Beatson, ICLR 2019): MAML over a weight posterior.

Instead of one initialisation, the learner meta-learns a Gaussian *prior* over all weights
(a mean and a standard deviation per weight). For a task, the variational posterior q starts at
the prior and takes ``inner_steps`` gradient steps, through ``metaopt.inner_loop``, on the
support set's negative ELBO: expected NLL (reparameterised weight samples) plus
``kl_weight * KL(q || prior)``. The outer loss is the same ELBO on the query set, differentiated
back through the inner steps to the prior, as MAML differentiates back to its initialisation.
Predictions average ``eval_samples`` draws from q, so the learner returns predictive uncertainty:
class probabilities that can be calibrated, or a spread of regression curves plus a learned
observation noise. We drop the paper's hyperprior on the prior's variance (the KL weight plays
its regularising role) and use MAML's inner SGD rather than the paper's per-task Adam.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms.base import register
from metaopt.algorithms.gbml import GBMLConfig, GradientMetaLearner
from metaopt.errors import ConfigError
from metaopt.inner_loop import AdaptResult
from metaopt.models.bayesian import GaussianWeights, gaussian_kl
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["ABML", "ABMLConfig", "Predictive"]

EVAL_SEED = 0  # weight samples at evaluation come from a fixed stream, so scores are reproducible


@dataclasses.dataclass
class ABMLConfig(GBMLConfig):
    samples: int = 2  # weight samples per ELBO estimate in training
    eval_samples: int = 10
    kl_weight: float = 1e-4
    init_log_sigma: float = -4.0

    def validate(self) -> None:
        super().validate()
        for name in ("samples", "eval_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.kl_weight < 0:
            raise ConfigError(f"kl_weight must be non-negative, got {self.kl_weight}")


@dataclasses.dataclass
class Predictive:
    """Per-sample outputs ``[S, N, out]`` (logits, or regression means) and the regression noise std."""

    samples: torch.Tensor
    noise_std: float | None

    def probs(self) -> torch.Tensor:
        return self.samples.softmax(-1).mean(0)

    def mean(self) -> torch.Tensor:
        return self.samples.mean(0)

    def std(self) -> torch.Tensor:
        """Predictive std of a regression output: weight spread plus observation noise."""
        return (self.samples.var(0, unbiased=False) + (self.noise_std or 0.0) ** 2).sqrt()

    def coverage(self, target: torch.Tensor, z: float = 1.96) -> float:
        """Fraction of regression targets inside mean ± z·std (0.95 is ideal for z = 1.96, if the
        predictive were Gaussian): the interval's calibration."""
        return float(((target - self.mean()).abs() <= z * self.std()).float().mean())


@register
class ABML(GradientMetaLearner):
    """ABML (Ravi & Beatson 2019): a meta-learned Gaussian prior over weights, adapted by inner-loop VI."""

    name = "abml"
    Config = ABMLConfig
    unbatched_reason = "it draws weight samples inside each task, which vmap would draw differently"
    unsplittable_reason = ("it draws weight samples from torch's global generator task after task, so a task's "
                           "draws would depend on which rank runs it")
    config: ABMLConfig

    def __init__(self, model: nn.Module, config: ABMLConfig, kind: TaskKind) -> None:
        super().__init__(GaussianWeights(model, config.init_log_sigma), config, kind)
        # Observation noise of the Gaussian likelihood (regression), meta-learned; unused for classes.
        self.log_noise = nn.Parameter(torch.zeros(()))

    def nll(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood over weight samples ``[S, N, out]`` and examples."""
        if self.kind == "classification":
            s, n, c = outputs.shape
            return F.cross_entropy(outputs.reshape(s * n, c), target.repeat(s))
        var = (2 * self.log_noise).exp()
        return 0.5 * (((outputs - target) ** 2) / var + 2 * self.log_noise + math.log(2 * math.pi)).mean()

    def elbo_loss(self, fmodule: nn.Module, x: torch.Tensor, y: torch.Tensor, step: int) -> torch.Tensor:
        kl = gaussian_kl(fmodule, self.model) if self.config.kl_weight > 0 else 0.0
        return self.nll(fmodule(x, step, samples=self.config.samples), y) + self.config.kl_weight * kl

    def adapt(  # type: ignore[override]
        self, support_x: torch.Tensor, support_y: torch.Tensor, steps: int, *, differentiable: bool,
        first_order: bool = False, after_step=None,
    ) -> AdaptResult:
        return self.inner.adapt(
            lambda f, s: self.elbo_loss(f, support_x, support_y, s), steps, self.inner_rates,
            first_order=first_order, differentiable=differentiable, after_step=after_step,
            # The KL term reads the prior (the module's own weights) and the likelihood the learned noise.
            inputs=[*self.model.parameters(), self.log_noise],
        )

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        steps = self.config.inner_steps
        result = self.adapt(task.support_x, task.support_y, steps, differentiable=True,
                            first_order=self.first_order_at(iteration))
        return self.elbo_loss(result.module, task.query_x, task.query_y, steps)

    def predictive(self, task: Task, steps: int | None = None, samples: int | None = None) -> Predictive:
        """The adapted posterior's predictive distribution on the query set (no meta-graph)."""
        steps = self.eval_steps(steps)
        with torch.random.fork_rng():
            torch.manual_seed(EVAL_SEED)
            with torch.enable_grad():
                result = self.adapt(task.support_x, task.support_y, steps, differentiable=False)
            with torch.no_grad():
                out = result.module(task.query_x, steps, samples=samples or self.config.eval_samples)
        noise = float(self.log_noise.detach().exp()) if self.kind == "regression" else None
        return Predictive(out.detach(), noise)

    def predict(self, task: Task, steps: int | None = None) -> torch.Tensor:
        """Log of the sample-averaged class probabilities (classification) or the mean prediction."""
        pred = self.predictive(task, steps)
        return pred.probs().log() if self.kind == "classification" else pred.mean()
