"""Helpers for testing code built on metaopt (used by metaopt's own tests, as ``optuna.testing`` is)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metaopt.tasks.base import Task

__all__ = ["run_cli", "random_episode", "exact_gpu_arithmetic"]


def run_cli(args: Sequence[str], capsys: Any) -> tuple[int, str, str]:
    """Run ``metaopt ARGS`` in-process; return (exit code, stdout, stderr) as captured by pytest's ``capsys``."""
    from metaopt.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return int(code or 0), out, err


def random_episode(ways: int, shots: int, queries: int, seed: int, size: int = 28) -> Task:
    """An N-way K-shot episode of uniform random ``size`` x ``size`` images, support in label-ordered
    blocks (``Task.shots``) as ``EpisodeSampler`` lays one out: timing arithmetic needs no dataset."""
    import torch

    from metaopt.tasks.base import Task

    g = torch.Generator().manual_seed(seed)
    return Task(torch.rand(ways * shots, 1, size, size, generator=g), torch.arange(ways).repeat_interleave(shots),
                torch.rand(ways * queries, 1, size, size, generator=g), torch.arange(ways).repeat_interleave(queries),
                "classification", ways, shots)


@contextmanager
def exact_gpu_arithmetic() -> Iterator[None]:
    """Inside the block, no TF32 (a 10-bit mantissa, PyTorch's default for GPU convolutions) and only
    deterministic cuDNN kernels, so GPU results can be compared with the CPU's; restored afterwards."""
    import torch

    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
