"""Conversation topics of PyPI's ``chatterbot-corpus``: a text is one question-and-answer exchange."""

from __future__ import annotations

from pathlib import Path

from metaopt._imports import require
from metaopt.errors import MissingDependencyError
from prompting._sources import chatterbot_folder
from prompting.tasks.base import TaskFamily, split_classes

__all__ = ["chatterbot_family"]

_SKIP = {"botprofile", "conversations"}  # about the bot itself, or mixed topics


def chatterbot_family(lang: str = "english", folder: str | Path | None = None) -> TaskFamily:
    """One class per topic file; the verbaliser is the topic name (``tech_support`` -> ``tech support``)."""
    yaml = require("yaml", "pyyaml")
    root = Path(folder) if folder else chatterbot_folder()
    if not (root / lang).is_dir():
        raise MissingDependencyError(f"chatterbot corpus has no language {lang!r} under {root}")
    texts: dict[str, list[str]] = {}
    for path in sorted((root / lang).glob("*.yml")):
        if path.stem in _SKIP:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace")) or {}
        convs = [c for c in data.get("conversations") or [] if isinstance(c, list) and c]
        texts[path.stem] = [" / ".join(str(turn) for turn in conv[:2]) for conv in convs]
    names = sorted(texts)
    return TaskFamily(f"chatterbot-{lang}", texts, {c: c.replace("_", " ") for c in names},
                      split_classes(len(names), (0.47, 0.21)))
