"""One training run on several processes, GPUs or hosts with ``torch.distributed``, as ``torchrun`` starts it.

A launcher (``torchrun``, or anything that sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` and,
for GPUs, ``LOCAL_RANK``) starts the same command once per process; :func:`launch_env` reads those variables
and :func:`init` joins the process group (gloo on CPUs, NCCL on GPUs). Without them, or with a world of one,
nothing is initialised and every function here answers as one process would at no cost (``world_size()`` is 1,
``share`` is everything, ``gather`` returns its argument), so one-process code paths stay exactly as they were.

The trainer splits a meta-batch into contiguous blocks of task indices (:func:`share`), all-reduces the
meta-gradient (:func:`all_reduce_gradients`) and gathers per-task scores in global order
(:func:`gather`); only rank 0 writes files and talks to MLflow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from metaopt.errors import ConfigError

__all__ = ["Launch", "launch_env", "init", "shutdown", "active", "rank", "world_size", "share", "gather",
           "all_reduce_gradients", "all_reduce_sum", "broadcast_bytes", "first_error", "TIMEOUT"]

# How long a collective (and joining the group) waits for the slowest rank. Generous because one rank may
# still be building a dataset (minutes for glyphs) or scoring its share of 600 test tasks while the others wait.
TIMEOUT = timedelta(minutes=30)

_REQUIRED = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Launch:
    """What the launcher says about this process. ``local_rank`` (the GPU index on this host) may be unknown
    to launchers that do not set ``LOCAL_RANK``; only a GPU run needs it."""

    rank: int
    world_size: int
    local_rank: int | None
    master_addr: str
    master_port: int


def launch_env(environ: Mapping[str, str] | None = None) -> Launch | None:
    """The launcher's variables, or None where none is set (one process, as today). A partial or malformed set
    raises ConfigError naming the variable, so a broken job script fails in one line instead of hanging."""
    env = os.environ if environ is None else environ
    present = [k for k in (*_REQUIRED, "LOCAL_RANK") if env.get(k)]
    if not present:
        return None
    missing = [k for k in _REQUIRED if not env.get(k)]
    if missing:
        raise ConfigError(f"launcher environment: {', '.join(present)} set but {', '.join(missing)} missing "
                          "(start with torchrun, or unset them for one process)")

    def integer(name: str, low: int, high: int | None = None) -> int:
        text = env[name]
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"launcher environment: {name}={text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"launcher environment: {name}={value} must be {bound}")
        return value

    world = integer("WORLD_SIZE", 1)
    local = integer("LOCAL_RANK", 0) if env.get("LOCAL_RANK") else None
    return Launch(integer("RANK", 0, world - 1), world, local, env["MASTER_ADDR"], integer("MASTER_PORT", 1, 65535))


def init(launch: Launch | None, device: torch.device) -> None:
    """Join the process group of ``launch`` with the backend for ``device`` (NCCL for CUDA, else gloo); nothing
    for one process or a world of one. A group that cannot be joined is one ConfigError line."""
    if launch is None or launch.world_size == 1 or active():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL and object collectives use the current device
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend, init_method=f"tcp://{_host(launch.master_addr)}:{launch.master_port}",
                                rank=launch.rank, world_size=launch.world_size, timeout=TIMEOUT)
    except (RuntimeError, ValueError) as exc:  # DistNetworkError and DistStoreError are RuntimeErrors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot join the process group at {launch.master_addr}:{launch.master_port} "
                          f"as rank {launch.rank} of {launch.world_size}: {first}") from None


def _host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr and not addr.startswith("[") else addr  # an IPv6 literal


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if active():
        dist.destroy_process_group()


def active() -> bool:
    """Whether this process is in a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def share(n: int, world: int, rank: int) -> range:
    """The indices of ``range(n)`` that ``rank`` of ``world`` handles: contiguous blocks in rank order, the first
    ``n % world`` ranks one longer. A pure function of its arguments, so every rank knows every rank's share;
    a rank's share is empty where ``n < world``."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in a world of {world}")
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (rank < extra))


def _device() -> torch.device:
    """Where collectives' tensors live: the current GPU under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def gather(values: Sequence[float]) -> list[float]:
    """Every rank's ``values``, concatenated in rank order: with each rank passing the values of its
    :func:`share`, the values of all indices in global order, on every rank. Exact (float64)."""
    if not active():
        return list(values)
    dev = _device()
    counts = [torch.zeros(1, dtype=torch.int64, device=dev) for _ in range(world_size())]
    dist.all_gather(counts, torch.tensor([len(values)], dtype=torch.int64, device=dev))
    longest = max(int(c) for c in counts)
    mine = torch.zeros(longest, dtype=torch.float64, device=dev)
    mine[: len(values)] = torch.tensor(list(values), dtype=torch.float64)
    parts = [torch.empty(longest, dtype=torch.float64, device=dev) for _ in counts]
    dist.all_gather(parts, mine)
    return [v for part, c in zip(parts, counts) for v in part[: int(c)].tolist()]


def all_reduce_sum(value: float) -> float:
    """The sum of ``value`` over the ranks, on every rank (float64)."""
    if not active():
        return value
    total = torch.tensor([value], dtype=torch.float64, device=_device())
    dist.all_reduce(total)
    return float(total)


def all_reduce_gradients(params: Sequence[torch.Tensor]) -> None:
    """Replace every parameter's gradient with its sum over the ranks.

    A rank with an empty share (or a parameter its tasks did not reach) has no gradient; it counts as zero, and a
    parameter that has a gradient on no rank keeps None (so Adam skips it, as in one process). Gradients travel as
    one flat buffer per dtype: one collective per step instead of one per tensor."""
    if not active():
        return
    dev = _device()
    present = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=dev)
    dist.all_reduce(present)
    reached = [p for p, n in zip(params, present.tolist()) if n > 0]
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for p in reached:
        by_dtype.setdefault(p.dtype, []).append(p)
    for group in by_dtype.values():
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(dev)
                          for p in group])
        dist.all_reduce(flat)
        offset = 0
        for p in group:
            part = flat[offset: offset + p.numel()].view_as(p).to(p.device)
            offset += p.numel()
            if p.grad is None:
                p.grad = part.clone()
            else:
                p.grad.copy_(part)


def broadcast_bytes(data: bytes | None, src: int = 0) -> bytes | None:
    """``data`` of rank ``src`` on every rank (None stays None). Raw bytes, so a checkpoint read by rank 0 is
    deserialised by every rank as safely as from the file (``torch.load(weights_only=True)``), never unpickled."""
    if not active():
        return data
    dev = _device()
    size = torch.tensor([-1 if data is None else len(data)], dtype=torch.int64, device=dev)
    dist.broadcast(size, src)
    if int(size) < 0:
        return None
    buffer = (torch.frombuffer(bytearray(data), dtype=torch.uint8).to(dev) if dist.get_rank() == src and data
              else torch.empty(int(size), dtype=torch.uint8, device=dev))
    if int(size):
        dist.broadcast(buffer, src)
    return bytes(buffer.cpu().numpy().tobytes())


def first_error(message: str | None) -> str | None:
    """The message of the lowest rank that has one, on every rank (None where no rank has one).

    Call it where a step may fail on some ranks only (rank 0's checks of the run folder, a dataset missing on
    one host): every rank then fails with the same line instead of waiting in the next collective until
    :data:`TIMEOUT`."""
    if not active():
        return message
    messages = [broadcast_bytes(message.encode() if message is not None and r == rank() else None, src=r)
                for r in range(world_size())]
    return next((m.decode() for m in messages if m is not None), None)
