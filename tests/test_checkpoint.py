"""Atomic writes: a reader or a second writer never sees half a file."""

from __future__ import annotations

import functools

import pytest

from metaopt.checkpoint import write_atomically
from metaopt.errors import ConfigError


def test_writers_of_one_path_at_once_leave_one_whole_file(tmp_path, at_once):
    path = tmp_path / "result.json"
    payloads = [bytes([i]) * (1 << 22) for i in range(4)]
    _, errors = at_once(*(functools.partial(write_atomically, path, p, "result") for p in payloads))
    assert not errors
    assert path.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary file left


def test_a_failed_write_keeps_the_previous_file_and_says_why(tmp_path, monkeypatch):
    import errno
    import os

    path = tmp_path / "result.json"
    write_atomically(path, b"old", "result")

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(ConfigError, match=r"cannot write result .*result.json: no space left on device "
                                          r"\(the previous one is kept\)"):
        write_atomically(path, b"new", "result")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
