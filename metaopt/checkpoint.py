"""Checkpoints that load without unpickling arbitrary objects.

A run directory holds ``config.json`` (what to rebuild) and ``checkpoint.pt``: tensors, numbers,
strings, lists and dicts only, read back with ``torch.load(weights_only=True)``. Writes go to a
temporary file first and are renamed into place, so a crash mid-write keeps the last good one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from metaopt.errors import ConfigError

__all__ = ["CHECKPOINT_FILE", "CONFIG_FILE", "save_checkpoint", "load_checkpoint", "write_json", "read_json"]

CHECKPOINT_FILE = "checkpoint.pt"
CONFIG_FILE = "config.json"


def save_checkpoint(directory: str | Path, state: dict[str, Any]) -> Path:
    path = Path(directory) / CHECKPOINT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise ConfigError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"unreadable checkpoint {path}: {reason}") from None


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no {path.name} at {path.parent}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"unreadable {path}: {exc}") from None
