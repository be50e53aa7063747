"""Meta Networks (Munkhdalai & Yu 2017): fast weights generated from loss gradients, kept in a memory.

Two learners, each with slow weights (meta-learned by the outer loop) and fast weights (made per task):

* the **base learner** classifies: the model's encoder (Conv4 or MLP features, slow), then a hidden
  layer and an output layer, both *layer-augmented*: each has a slow weight ``W`` and a fast weight
  ``W*``, their outputs are computed separately and summed (after the ReLU on the hidden layer), as
  in the paper's section 3.3;
* the **meta learner** owns the representation function ``u`` (a layer on the encoder's features,
  itself layer-augmented) and the fast-weight generators ``d`` and ``g``, coordinate-wise MLPs that map a
  preprocessed gradient to a weight (the paper's 3-layer nets with 20 units; preprocessing
  ``(log|x| / p, sign x)`` as in Andrychowicz et al. 2016).

Per task: (1) the *task-level* fast weight of ``u`` is ``d`` applied to the gradient of a representation
loss on the support set (a contrastive loss over every support pair, same class or not); (2) for every
support example ``i`` the gradient of the base learner's loss on it (the *meta information*) goes
through ``g`` to give example-level fast weights ``W*_i``, stored in a memory indexed by ``r_i = u(x_i)``
with the task-level fast weight in place; (3) a query ``x`` reads ``W* = sum_i softmax(cos(u(x), r_i)) W*_i``
and the base learner predicts with ``W`` and ``W*`` together. Meta-training minimises the query loss.

Simplifications, said here so no one mistakes them for the paper's: ``u`` shares the base learner's
encoder (the paper gives it its own ConvNet; two Conv4 passes doubled the CPU cost); ``d`` sees the
summed gradient over all support pairs instead of an LSTM over sampled pairs; gradients are inputs to
the generators with no second-order term (``second_order=True`` keeps it, at several times the cost).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms.base import LearnerConfig, MetaLearner, register
from metaopt.algorithms.metalstm import preprocess
from metaopt.errors import ConfigError
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["MetaNet", "MetaNetConfig", "per_example_linear_grads", "augmented"]


@dataclasses.dataclass
class MetaNetConfig(LearnerConfig):
    hidden: int = 64  # width of the base learner's layer-augmented hidden layer
    key_size: int = 64  # width of the representation u (the memory's keys)
    generator_hidden: int = 20  # units in each layer of the coordinate-wise generators d and g
    # Initial scale of generated fast weights (learned). At 1.0 the generated weights drowned the slow ones
    # on glyphs 5-way 1-shot (first loss 3.4, then a collapse to the uniform ln 5 for 200 iterations); at
    # 0.1 the same run learned within 50 iterations, and Fashion-MNIST 3-way learned at either.
    fast_scale: float = 0.1
    second_order: bool = False

    def validate(self) -> None:
        for name in ("hidden", "key_size", "generator_hidden"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not self.fast_scale > 0:
            raise ConfigError(f"fast_scale must be positive, got {self.fast_scale}")
        if not isinstance(self.second_order, bool):
            raise ConfigError(f"second_order must be true or false, got {self.second_order!r}")


def per_example_linear_grads(delta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Per-example gradients ``[N, out, in]`` of a linear layer's weight, from the gradients ``delta``
    ``[N, out]`` of a summed loss at its outputs and its inputs ``[N, in]`` (examples are independent)."""
    return delta.unsqueeze(2) * inputs.unsqueeze(1)


def augmented(x: torch.Tensor, slow: nn.Linear, fast: torch.Tensor, relu: bool) -> torch.Tensor:
    """Layer augmentation: slow and fast outputs computed apart, summed (each through the ReLU if any).
    ``fast`` is one weight ``[out, in]`` for all rows of ``x`` or one per row ``[N, out, in]``."""
    s = slow(x)
    f = x @ fast.T if fast.dim() == 2 else torch.einsum("nd,nod->no", x, fast)
    return F.relu(s) + F.relu(f) if relu else s + f


class _Generator(nn.Module):
    """A coordinate-wise MLP from a preprocessed gradient (2 features) to one fast-weight value."""

    def __init__(self, hidden: int, scale: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 1))
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())

    def forward(self, grad: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp() * self.net(preprocess(grad.reshape(-1))).view(grad.shape)


@register
class MetaNet(MetaLearner):
    """Meta Networks (Munkhdalai & Yu 2017): gradient-generated fast weights in a representation-indexed memory."""

    name = "metanet"
    Config = MetaNetConfig
    config: MetaNetConfig
    kinds = frozenset({"classification"})

    def __init__(self, model: nn.Module, config: MetaNetConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        head = getattr(model, "head", None)
        if not isinstance(head, nn.Linear) or not hasattr(model, "features"):
            raise ConfigError("metanet needs a model with a 'features' encoder and a linear 'head' (Conv4 or MLP)")
        self.n_way = head.out_features
        width = head.in_features
        self.base_hidden = nn.Linear(width, config.hidden)
        self.base_out = nn.Linear(config.hidden, self.n_way)
        self.represent = nn.Linear(width, config.key_size)  # u's slow weight
        self.d = _Generator(config.generator_hidden, config.fast_scale)  # task-level fast weights of u
        self.g = _Generator(config.generator_hidden, config.fast_scale)  # example-level fast weights of the base

    def _meta_info(self, loss: torch.Tensor, wrt: list[torch.Tensor]) -> list[torch.Tensor]:
        grads = torch.autograd.grad(loss, wrt, create_graph=self.config.second_order and torch.is_grad_enabled())
        return list(grads) if self.config.second_order else [g.detach() for g in grads]

    def _representation_fast_weight(self, feats: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``d`` applied to the gradient, at u's slow weight, of a contrastive loss over all support pairs.

        The gradient is taken with respect to the slow weight itself (the paper's meta information for u),
        not a zero fast weight beside it: through the ReLU a zero weight's output sits at the kink, where
        the derivative is 0, so that gradient was identically zero and ``d`` learned nothing."""
        weight = self.represent.weight
        if not self.config.second_order:
            weight = weight.detach().requires_grad_(True)
        keys = F.normalize(F.relu(F.linear(feats, weight, self.represent.bias)), dim=1)
        n = len(labels)
        pairs = torch.triu_indices(n, n, 1, device=feats.device)
        similarity = (keys[pairs[0]] * keys[pairs[1]]).sum(1)
        same = (labels[pairs[0]] == labels[pairs[1]]).to(similarity.dtype)
        # A cosine in [-1, 1] scaled by 5 so the logistic loss can approach 0 and 1.
        loss = F.binary_cross_entropy_with_logits(5 * similarity, same, reduction="sum")
        (grad,) = self._meta_info(loss, [weight])
        return self.d(grad)

    def _example_fast_weights(self, feats: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``g`` applied to each support example's loss gradient at the slow weights: ``[S, H, D]``, ``[S, n, H]``."""
        pre = self.base_hidden(feats)
        hidden = F.relu(pre)
        logits = self.base_out(hidden)
        loss = F.cross_entropy(logits, labels, reduction="sum")  # summed: per-example deltas stay per example
        d_pre, d_logits = self._meta_info(loss, [pre, logits])
        inputs = (feats, hidden) if self.config.second_order else (feats.detach(), hidden.detach())
        w1 = self.g(per_example_linear_grads(d_pre, inputs[0]))
        w2 = self.g(per_example_linear_grads(d_logits, inputs[1]))
        return w1, w2

    def logits(self, task: Task) -> torch.Tensor:
        if task.n_way is not None and task.n_way != self.n_way:
            raise ConfigError(f"metanet was built for {self.n_way}-way tasks, got a {task.n_way}-way task")
        feats = self.model.features(torch.cat([task.support_x, task.query_x]))
        support, query = feats[: len(task.support_x)], feats[len(task.support_x):]
        with torch.enable_grad():  # meta information is a gradient, also when predicting under no_grad
            u_fast = self._representation_fast_weight(support, task.support_y)
            w1, w2 = self._example_fast_weights(support, task.support_y)
        keys = F.normalize(augmented(support, self.represent, u_fast, relu=True), dim=1)
        reads = F.normalize(augmented(query, self.represent, u_fast, relu=True), dim=1)
        attention = (reads @ keys.T).mul(10.0).softmax(dim=1)  # [Q, S]; scale 10 sharpens cosines in [-1, 1]
        fast1 = torch.einsum("qs,shd->qhd", attention, w1)
        fast2 = torch.einsum("qs,snh->qnh", attention, w2)
        hidden = augmented(query, self.base_hidden, fast1, relu=True)
        return augmented(hidden, self.base_out, fast2, relu=False)

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        return self.loss(self.logits(task), task.query_y)

    def predict(self, task: Task, steps: int | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.logits(task).detach()
