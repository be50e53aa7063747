"""The standard Conv4 backbone (Vinyals et al. 2016; Finn et al. 2017).

Four blocks of 3x3 conv (64 filters) -> BatchNorm -> ReLU -> 2x2 max-pool, then a linear head.

BatchNorm at meta-test time: every forward normalises with the statistics of the batch it is
given (the task's support set while adapting, the task's query set when predicting), and no
running statistics are kept, so nothing estimated during meta-training leaks into a test task.
This is what the MAML, MAML++ and ProtoNets reference code do (transductive batch statistics);
learn2learn instead keeps running statistics and evaluates in train mode.

``norm_steps > 1`` gives MAML++'s per-step BatchNorm: a separate scale and shift per inner step.

Under ``torch.func.vmap`` (the batched engine), ``F.batch_norm``'s second derivative is wrong (a
meta-gradient off by 0.72 on Conv4 against ``higher``), so inside ``batch_norm_from_ops()`` the same
normalisation is written out from mean and variance ops, whose derivatives of every order batch
correctly: per-task batch statistics, exact against the reference engine in float64.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conv4", "ConvBlock", "StepBatchNorm2d", "batch_norm_from_ops"]

_FROM_OPS = contextvars.ContextVar("metaopt_batch_norm_from_ops", default=False)


@contextlib.contextmanager
def batch_norm_from_ops() -> Iterator[None]:
    """Inside, ``StepBatchNorm2d`` normalises with explicit mean/var ops (correct under ``vmap``)."""
    token = _FROM_OPS.set(True)
    try:
        yield
    finally:
        _FROM_OPS.reset(token)


class StepBatchNorm2d(nn.Module):
    """BatchNorm with batch statistics only and one affine (weight, bias) row per inner step."""

    def __init__(self, channels: int, steps: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(steps, channels))
        self.bias = nn.Parameter(torch.zeros(steps, channels))
        self.eps = eps

    def forward(self, x: torch.Tensor, step: int = 0) -> torch.Tensor:
        if self.weight.shape[0] == 1:  # a view, whose backward is free; indexing's backward writes a zeros tensor
            weight, bias = self.weight.view(-1), self.bias.view(-1)
        else:
            step = min(step, self.weight.shape[0] - 1)
            weight, bias = self.weight[step], self.bias[step]
        # Compiled code (``--compile``) always takes the explicit ops: dynamo cannot trace the context
        # variable, and the ops are right with and without vmap.
        if torch.compiler.is_compiling() or _FROM_OPS.get():
            mean = x.mean((0, 2, 3), keepdim=True)
            var = (x - mean).square().mean((0, 2, 3), keepdim=True)
            return (x - mean) * torch.rsqrt(var + self.eps) * weight[:, None, None] + bias[:, None, None]
        return F.batch_norm(x, None, None, weight, bias, training=True, eps=self.eps)


class ConvBlock(nn.Module):
    """3x3 conv (padding 1) -> batch-statistics BatchNorm -> ReLU -> optional 2x2 max-pool."""

    def __init__(self, cin: int, cout: int, norm_steps: int = 1, pool: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = StepBatchNorm2d(cout, norm_steps)
        self.pool = pool

    def forward(self, x: torch.Tensor, step: int = 0) -> torch.Tensor:
        x = F.relu(self.norm(self.conv(x), step))
        return F.max_pool2d(x, 2) if self.pool else x


class _Features(nn.Module):
    def __init__(self, in_channels: int, hidden: int, norm_steps: int, pool_blocks: int = 4) -> None:
        super().__init__()
        chans = [in_channels, hidden, hidden, hidden, hidden]
        self.blocks = nn.ModuleList(
            ConvBlock(a, b, norm_steps, pool=i < pool_blocks) for i, (a, b) in enumerate(zip(chans, chans[1:]))
        )

    def forward(self, x: torch.Tensor, step: int = 0) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, step)
        return x.flatten(1)


class Conv4(nn.Module):
    """Conv4 for ``image_size`` in {28, 84} (any size >= 16 works); ``features`` then linear ``head``.

    ``head=False`` gives the bare embedding (metric learners compare features, they have no
    classifier); ``pool_blocks`` < 4 leaves the last blocks unpooled, as Relation Networks'
    encoder does. ``feature_shape`` is the ``[C, H, W]`` map that ``features`` flattens.
    """

    def __init__(
        self, in_channels: int = 1, out_features: int = 5, image_size: int = 28, hidden: int = 64, norm_steps: int = 1,
        *, head: bool = True, pool_blocks: int = 4,
    ) -> None:
        super().__init__()
        if not 0 <= pool_blocks <= 4:
            raise ValueError(f"pool_blocks must be in 0..4, got {pool_blocks}")
        self.features = _Features(in_channels, hidden, norm_steps, pool_blocks)
        side = image_size
        for _ in range(pool_blocks):
            side //= 2
        self.feature_shape = (hidden, side, side)
        self.feature_dim = hidden * side * side
        self.head = nn.Linear(self.feature_dim, out_features) if head else nn.Identity()

    def forward(self, x: torch.Tensor, step: int = 0) -> torch.Tensor:
        return self.head(self.features(x, step))
