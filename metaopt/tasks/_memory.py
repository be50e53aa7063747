"""Refusing episode sizes that cannot fit in memory, before anything is allocated.

``--shots 1000000000`` would otherwise allocate until the machine swaps or the allocator fails with a
traceback far from the option that caused it. The estimates count only the episodes' own tensors
(float32 inputs, targets), a lower bound of what training needs, so nothing that fits is refused.
"""

from __future__ import annotations

import math
import os

from metaopt.errors import ConfigError

__all__ = ["physical_memory", "episode_bytes", "check_episodes_fit", "check_shape_fits", "RL_STEP_BYTES",
           "ACTIVATION_FACTOR"]

# Training keeps activations and their gradients for every input point: in the default models (MLP
# 40-40, Conv4 with 64 channels) they take far more than ten times the inputs, so ten is a lower bound.
ACTIVATION_FACTOR = 10

# Lower bound of what one RL^2 environment step keeps for backpropagation (observation, action,
# reward, log-prob, value and entropy tensors of one step of one episode).
RL_STEP_BYTES = 256


def physical_memory() -> int | None:
    """Bytes of RAM of this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def episode_bytes(kind: str, ways: int | None, shots: int, queries: int, input_shape: tuple[int, ...]) -> int:
    """Bytes of one episode's tensors: inputs (float32) and targets (int64 labels or float32 values)."""
    if kind == "rl":
        return shots * RL_STEP_BYTES  # shots is the horizon
    points = (ways or 1) * (shots + queries)
    target = 8 if kind == "classification" else 4 * math.prod(input_shape)
    return points * (4 * math.prod(input_shape) + target)


def check_episodes_fit(count: int, one: int, sizes: str, *, memory: int | None = None, what: str = "data") -> None:
    """ConfigError naming ``sizes`` (e.g. ``shots=1000000000``) if ``count`` episodes of ``one`` bytes
    each exceed this machine's memory."""
    memory = physical_memory() if memory is None else memory
    if memory is None or count * one <= memory:
        return
    raise ConfigError(f"{sizes} cannot fit: {count} such episodes need at least {_gb(count * one)} of {what}, "
                      f"more than this machine's {_gb(memory)} of memory; use smaller sizes")


def check_shape_fits(count: int, kind: str, ways: int | None, shots: int, queries: int,
                     input_shape: tuple[int, ...]) -> None:
    """:func:`check_episodes_fit` for ``count`` episodes of this shape, naming the sizes as options."""
    if kind == "rl":
        sizes = f"shots={shots} (the horizon)"
    else:
        sizes = ", ".join(f"{k}={v}" for k, v in (("ways", ways), ("shots", shots), ("queries", queries)) if v)
    one = episode_bytes(kind, ways, shots, queries, input_shape)
    factor = 1 if kind == "rl" else ACTIVATION_FACTOR  # RL_STEP_BYTES already counts what a step keeps
    check_episodes_fit(count, one * factor, sizes, what="data and activations")


def _gb(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n < 2**50 else f"{n / 2**40:.3g} TiB"
