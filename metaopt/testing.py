"""Helpers for testing code built on metaopt (used by metaopt's own tests, as ``optuna.testing`` is)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["run_cli"]


def run_cli(args: Sequence[str], capsys: Any) -> tuple[int, str, str]:
    """Run ``metaopt ARGS`` in-process; return (exit code, stdout, stderr) as captured by pytest's ``capsys``."""
    from metaopt.cli import main

    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return int(code or 0), out, err
