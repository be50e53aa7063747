"""A module run on explicit tensors: what a loss function sees on the functional engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["FunctionalModule"]


class FunctionalModule:
    """``module`` called with ``tensors`` in place of its parameters (``torch.func.functional_call``).

    It answers what loss functions ask of ``higher``'s patched module: calling it, ``parameters()``,
    ``named_parameters()`` and top-level parameters by attribute (ABML's KL term reads its means that
    way); any other attribute is the module's own.
    """

    def __init__(self, module: nn.Module, names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
        self._module = module
        self._names = list(names)
        self._tensors = list(tensors)

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        return functional_call(self._module, dict(zip(self._names, self._tensors)), args, kwargs)

    def parameters(self) -> Iterator[torch.Tensor]:
        return iter(self._tensors)

    def named_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        return iter(zip(self._names, self._tensors))

    @property
    def fast_params(self) -> list[torch.Tensor]:
        return list(self._tensors)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._names:
            return self._tensors[self._names.index(name)]
        return getattr(self._module, name)
