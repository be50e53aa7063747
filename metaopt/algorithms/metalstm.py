"""The LSTM meta-learner (Ravi & Larochelle 2017): a learned optimiser whose cell state is the learner.

A coordinate-wise two-layer LSTM, shared by every coordinate of every parameter tensor:

1. a plain LSTM reads each coordinate's preprocessed gradient and the preprocessed support loss
   (Andrychowicz et al. 2016: ``(log|x| / p, sign x)`` if ``|x| >= e^-p`` else ``(-1, e^p x)``, p = 10);
2. the meta-LSTM cell's state *is* the learner's weights: ``theta_t = f_t * theta_{t-1} - i_t * grad_t``,
   with forget gate ``f_t = sigmoid(W_F [h_t, theta_{t-1}, f_{t-1}] + b_F)`` and input gate (the learned
   learning rate) ``i_t = sigmoid(W_I [h_t, theta_{t-1}, i_{t-1}] + b_I)``.

The initial cell state ``theta_0`` is the model's own weights, meta-learned along with the LSTM. As in
the paper, gradients and losses given to the LSTM are treated as constants (the second-order term
through them is dropped); the meta-gradient flows through the unrolled updates themselves. The
update runs through ``metaopt.inner_loop``'s ``update_rule`` hook, like every adaptation. The gate
biases start where the paper puts them: forget gate near 1, input gate small (``inner_lr``), so the
untrained meta-learner is close to plain SGD at rate ``inner_lr``.

BatchNorm: Conv4 always normalises with the batch's statistics (the paper's learner does too).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from metaopt.algorithms.base import LearnerConfig, MetaLearner, register
from metaopt.errors import ConfigError
from metaopt.inner_loop import InnerLoop, UpdateRule
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = ["MetaLSTM", "MetaLSTMConfig", "MetaLSTMRule", "lstm_cell", "metalstm_update", "preprocess"]


@dataclasses.dataclass
class MetaLSTMConfig(LearnerConfig):
    inner_lr: float = 0.01  # the input gate's initial value: the first update is SGD at this rate
    inner_steps: int = 5
    eval_inner_steps: int | None = None
    hidden_size: int = 20
    forget_init: float = 0.995  # the forget gate's initial value (the paper's bias 4-6 puts it near 1)

    def validate(self) -> None:
        if not 0 < self.inner_lr < 1:
            raise ConfigError(f"inner_lr must be in (0, 1) (it is a sigmoid gate), got {self.inner_lr}")
        if self.inner_steps < 1:
            raise ConfigError(f"inner_steps must be at least 1, got {self.inner_steps}")
        if self.eval_inner_steps is not None and self.eval_inner_steps < 1:
            raise ConfigError(f"eval_inner_steps must be at least 1, got {self.eval_inner_steps}")
        if self.hidden_size < 1:
            raise ConfigError(f"hidden_size must be at least 1, got {self.hidden_size}")
        if not 0 < self.forget_init < 1:
            raise ConfigError(f"forget_init must be in (0, 1), got {self.forget_init}")


def preprocess(x: torch.Tensor, p: float = 10.0) -> torch.Tensor:
    """Andrychowicz et al.'s scaling of a gradient or loss into two features, ``[..., 2]``."""
    big = x.abs() >= math.exp(-p)
    first = torch.where(big, x.abs().clamp_min(1e-38).log() / p, torch.full_like(x, -1.0))
    second = torch.where(big, x.sign(), x * math.exp(p))
    return torch.stack([first, second], dim=-1)


def metalstm_update(
    params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], forget: Sequence[torch.Tensor | float],
    input_gate: Sequence[torch.Tensor | float],
) -> list[torch.Tensor]:
    """The meta-LSTM's cell update ``theta * f - i * grad`` as a pure function (the functional twin)."""
    return [f * p - i * g for p, g, f, i in zip(params, grads, forget, input_gate)]


def lstm_cell(
    cell: nn.LSTMCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``cell(x, (h, c))`` written out in ops that ``vmap`` can batch (it has no rule for the fused cell)."""
    gates = F.linear(x, cell.weight_ih, cell.bias_ih) + F.linear(h, cell.weight_hh, cell.bias_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class MetaLSTMRule(nn.Module):
    """The coordinate-wise two-layer meta-LSTM; ``start()`` gives a fresh update rule for one task."""

    def __init__(self, hidden_size: int = 20, inner_lr: float = 0.01, forget_init: float = 0.995) -> None:
        super().__init__()
        self.lstm = nn.LSTMCell(4, hidden_size)
        self.forget = nn.Linear(hidden_size + 2, 1)
        self.input = nn.Linear(hidden_size + 2, 1)
        for layer, value in ((self.forget, forget_init), (self.input, inner_lr)):
            nn.init.uniform_(layer.weight, -0.01, 0.01)
            nn.init.constant_(layer.bias, math.log(value / (1 - value)))

    def start(self, differentiable: bool = True) -> UpdateRule:
        """A fresh rule (zero LSTM state); without ``differentiable`` it builds no graph (evaluation)."""
        state: dict[str, torch.Tensor] = {}

        def rule(
            params: list[torch.Tensor], grads: list[torch.Tensor | None], loss: torch.Tensor, step: int
        ) -> list[torch.Tensor]:
            with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
                return update(params, grads, loss)

        def update(
            params: list[torch.Tensor], grads: list[torch.Tensor | None], loss: torch.Tensor
        ) -> list[torch.Tensor]:
            theta = torch.cat([p.reshape(-1) for p in params])
            grad = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)])
            n = theta.numel()
            features = torch.cat([preprocess(grad), preprocess(loss.reshape(1)).expand(n, 2)], dim=1)
            if not state:  # gates start at zero, as in the paper's reference code
                zeros = theta.new_zeros(n, 1)
                state.update(h=theta.new_zeros(n, self.lstm.hidden_size), c=theta.new_zeros(n, self.lstm.hidden_size),
                             f=zeros, i=zeros)
            h, c = lstm_cell(self.lstm, features, state["h"], state["c"])
            column = theta.unsqueeze(1)
            f = torch.sigmoid(self.forget(torch.cat([h, column, state["f"]], dim=1)))
            i = torch.sigmoid(self.input(torch.cat([h, column, state["i"]], dim=1)))
            state.update(h=h, c=c, f=f, i=i)
            new = metalstm_update([theta], [grad], [f.squeeze(1)], [i.squeeze(1)])[0]
            return [chunk.view_as(p) for chunk, p in zip(new.split([p.numel() for p in params]), params)]

        return rule


@register
class MetaLSTM(MetaLearner):
    """LSTM meta-learner (Ravi & Larochelle 2017): a learned coordinate-wise update whose state is the weights."""

    name = "metalstm"
    has_inner_loop = True
    first_order_inner = True  # gradients and losses reach the LSTM as constants, as in the paper
    Config = MetaLSTMConfig
    config: MetaLSTMConfig

    def __init__(self, model: nn.Module, config: MetaLSTMConfig, kind: TaskKind) -> None:
        super().__init__(model, config, kind)
        self.rule = MetaLSTMRule(config.hidden_size, config.inner_lr, config.forget_init)
        self.inner = InnerLoop(self.model)

    def adapt(self, task: Task, steps: int, *, differentiable: bool) -> nn.Module:
        result = self.inner.adapt(
            lambda f, s: self.loss(f(task.support_x), task.support_y), steps, 0.0,
            first_order=True, differentiable=differentiable, update_rule=self.rule.start(differentiable),
        )
        return result.module

    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        fmodule = self.adapt(task, self.config.inner_steps, differentiable=True)
        return self.loss(fmodule(task.query_x), task.query_y)

    def predict(self, task: Task, steps: int | None = None) -> torch.Tensor:
        steps = steps if steps is not None else self.config.eval_inner_steps or self.config.inner_steps
        with torch.enable_grad():
            fmodule = self.adapt(task, steps, differentiable=False)
        with torch.no_grad():
            return fmodule(task.query_x)
