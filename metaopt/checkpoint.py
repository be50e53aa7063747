"""Checkpoints that load without unpickling arbitrary objects.

A run directory holds ``config.json`` (what to rebuild) and ``checkpoint.pt``: tensors, numbers,
strings, lists and dicts only, read back with ``torch.load(weights_only=True)``. Writes go to a
temporary file first and are renamed into place, so a crash mid-write keeps the last good one.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from metaopt.errors import ConfigError

__all__ = ["CHECKPOINT_FILE", "CONFIG_FILE", "save_checkpoint", "load_checkpoint", "write_json", "read_json",
           "write_atomically", "private_sibling", "file_lock"]

CHECKPOINT_FILE = "checkpoint.pt"
CONFIG_FILE = "config.json"


def save_checkpoint(directory: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/checkpoint.pt`` atomically. A full disk or read-only folder raises
    ConfigError saying so; the previous checkpoint is kept and no temporary file is left behind."""
    path = Path(directory) / CHECKPOINT_FILE
    # Serialise in memory first: torch.save on a full disk fails with an opaque zip-writer error
    # ("unexpected pos ..."), while a plain file write raises OSError with the real errno.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomically(path, buffer.getbuffer(), "checkpoint")
    return path


def private_sibling(path: Path, suffix: str) -> Path:
    """A name beside ``path`` that no other process or thread uses: ``NAME.PID.THREAD`` + ``suffix``, where a
    file or folder is written before it replaces ``path`` (a shared temporary name lets two writers clobber it)."""
    return path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}{suffix}")


def write_atomically(path: Path, data: bytes | memoryview, what: str) -> None:
    """Replace ``path`` with ``data`` so that a stop mid-write leaves the previous file whole; a failed write
    (a full disk) is one ConfigError line naming ``what`` and the reason. Writers of the same path at once each
    write their own temporary file, and the last replace wins whole."""
    tmp = private_sibling(path, ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        kept = " (the previous one is kept)" if path.exists() else ""
        raise ConfigError(f"cannot write {what} {path}: {reason}{kept}") from None


@contextlib.contextmanager
def file_lock(path: Path | None) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if absent) among the processes of one machine; ``None``: no lock.
    For read-merge-write of a file that several processes update (no lock across hosts)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def load_checkpoint(directory: str | Path, *, data: bytes | None = None) -> dict[str, Any]:
    """The checkpoint in ``directory``; with ``data``, those bytes instead of the file's (a checkpoint that
    another process read, as under torch.distributed, where rank 0 reads and broadcasts it)."""
    path = Path(directory) / CHECKPOINT_FILE
    if data is None and not path.is_file():
        raise ConfigError(f"no checkpoint at {path}")
    try:
        return torch.load(path if data is None else io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # torch raises several types for corrupt or foreign files
        # torch's own first line ("Weights only load failed ... In PyTorch 2.6 ...") suggests a version
        # problem or unsafe loading; what the user needs is that this file is not a checkpoint we can read.
        raise ConfigError(f"{path} is not a readable checkpoint (corrupt, truncated, or not written by "
                          "metaopt); re-run training with --overwrite, or restore the file") from None


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    path = Path(path)
    write_atomically(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), path.name)


def read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no {path.name} at {path.parent}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"unreadable {path}: {exc}") from None
