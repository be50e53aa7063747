"""Models: the sinusoid MLP and the Conv4 backbone."""

from __future__ import annotations

from torch import nn

from metaopt.models.conv4 import Conv4, ConvBlock, StepBatchNorm2d
from metaopt.models.mlp import MLP

__all__ = ["MLP", "Conv4", "ConvBlock", "StepBatchNorm2d", "default_model"]


def default_model(
    input_shape: tuple[int, ...], out_features: int, *, norm_steps: int = 1, head: bool = True, pool_blocks: int = 4
) -> nn.Module:
    """MLP 1-40-40-1 for vector inputs, Conv4 for images ``[C, H, W]``.

    ``head=False`` drops the linear classifier (metric learners); ``pool_blocks`` applies to Conv4 only.
    """
    if len(input_shape) == 1:
        return MLP(input_shape[0], (40, 40), out_features, head=head)
    channels, height, _ = input_shape
    return Conv4(channels, out_features, image_size=height, norm_steps=norm_steps, head=head, pool_blocks=pool_blocks)
