"""Which torch device a run uses: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``.

The device is a property of where a run executes, not of the run itself: it is not written to
``config.json``, so a run trained on a GPU resumes or evaluates on a CPU and the other way round
(checkpoints are always read to the CPU first, then moved).
"""

from __future__ import annotations

import torch

from metaopt.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(spec: str | torch.device | None) -> torch.device:
    """The torch device named by ``spec`` (None: the CPU), checked to exist on this machine."""
    if spec is None:
        return torch.device("cpu")
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = spec.strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ConfigError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError(f"device {spec!r} is not available: {build}")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device {spec!r} is not available: this machine has {count} CUDA device(s)")
    elif device.type == "mps":
        if not _mps_available():
            raise ConfigError(f"device {spec!r} is not available on this machine")
    elif device.type != "cpu":
        raise ConfigError(f"unsupported device {spec!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
