"""Your own labelled texts as a task family: a JSON Lines file of ``{"text": ..., "label": ...}`` records
(``--family jsonl:PATH``), or a mapping of class to texts in Python (:func:`family_from_texts`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from metaopt.errors import ConfigError
from prompting.tasks.base import TaskFamily, split_classes

__all__ = ["family_from_texts", "jsonl_family"]


def family_from_texts(name: str, texts: Mapping[str, Sequence[str]], *,
                      verbalisers: Mapping[str, str] | None = None,
                      fractions: tuple[float, float] = (0.4, 0.3), seed: int = 0) -> TaskFamily:
    """A family from ``{class: [texts]}``. Classes are split into disjoint meta-train / val / test shares
    (``fractions`` of them for train and val, the rest test); the verbaliser of a class defaults to its
    name with ``_`` as spaces, which is what the LM reads after ``Label:``."""
    if len(texts) < 3:
        raise ConfigError(f"{name}: need at least 3 classes (train, val and test share them), got {len(texts)}")
    verbs = dict(verbalisers or {c: c.replace("_", " ") for c in texts})
    return TaskFamily(name, {c: list(v) for c, v in texts.items()}, verbs,
                      split_classes(len(texts), fractions, seed))


def jsonl_family(path: str | Path, **kwargs: object) -> TaskFamily:
    """A family from a JSON Lines file; every line needs a ``text`` and a ``label``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"task file {path} does not exist")
    texts: dict[str, list[str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            texts.setdefault(str(record["label"]), []).append(str(record["text"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(f"{path}:{n}: expected a JSON object with 'text' and 'label', "
                              f"got {line[:60]!r}") from None
    return family_from_texts(f"jsonl:{path}", texts, **kwargs)  # type: ignore[arg-type]
