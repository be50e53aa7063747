"""A user's own labelled files as a :class:`LabelledDataset`: JSON Lines, CSV or TSV, chosen by the ending.

``text_fields`` names one column (``text``) or several (``premise,hypothesis``): several become the example's
``parts``, filled into the template's fields in that order. Labels are read as strings; their words for the
LM default to the label names with ``_`` as spaces (``not_entailment`` -> ``not entailment``), and
``verbalizer`` overrides any of them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from metaopt.errors import ConfigError
from prompting.datasets.base import LabelledDataset
from prompting.prompt import PromptFormat
from prompting.tasks.base import Example

__all__ = ["read_records", "examples_from_records", "dataset_from_files", "parse_verbalizer", "FORMATS"]

FORMATS = {".jsonl": "JSON Lines", ".json": "JSON Lines", ".csv": "CSV", ".tsv": "TSV"}


def parse_verbalizer(text: str) -> dict[str, str]:
    """``"0=negative,1=positive"`` -> ``{"0": "negative", "1": "positive"}``."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        label, eq, word = item.partition("=")
        if not eq or not label.strip() or not word.strip():
            raise ConfigError(f"--verbalizer {text!r}: expected label=word pairs separated by commas")
        out[label.strip()] = word.strip()
    if not out:
        raise ConfigError(f"--verbalizer {text!r}: expected label=word pairs separated by commas")
    return out


def read_records(path: str | Path, flag: str = "--train") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or row number, record) of a JSON Lines, CSV or TSV file; ConfigError naming the file for
    anything else."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"{flag} {path}: expected a .jsonl, .csv or .tsv file")
    if not path.is_file():
        raise ConfigError(f"{flag} {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{flag} {path}: cannot read it ({exc})") from None
    if kind == "JSON Lines":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{flag} {path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise ConfigError(f"{flag} {path}:{n}: expected a JSON object, got {line[:60]!r}")
            yield n, record
        return
    reader = csv.DictReader(text.splitlines(), delimiter="," if kind == "CSV" else "\t")
    for n, row in enumerate(reader, 2):
        yield n, dict(row)


def examples_from_records(records: Iterator[tuple[int, Mapping[str, Any]]], source: str, *,
                          text_fields: Sequence[str], label_field: str) -> list[Example]:
    out = []
    for n, record in records:
        missing = [f for f in (*text_fields, label_field) if f not in record or record[f] is None]
        if missing:
            have = ", ".join(map(str, record)) or "none"
            raise ConfigError(f"{source}:{n}: no {missing[0]!r} field (it has {have}); set --text-field / "
                              "--label-field")
        parts = tuple(" ".join(str(record[f]).split()) for f in text_fields)
        label = str(record[label_field]).strip()
        if not label:
            raise ConfigError(f"{source}:{n}: empty label")
        out.append(Example(" ".join(parts), label, parts if len(parts) > 1 else ()))
    if not out:
        raise ConfigError(f"{source}: no examples (the file is empty)")
    return out


def dataset_from_files(train: str | Path, test: str | Path, *, text_field: str = "text", label_field: str = "label",
                       verbalizer: Mapping[str, str] | None = None, template: str | None = None,
                       instruction: str = "") -> LabelledDataset:
    """A dataset from a train file (the pool) and a test file (the queries). The default template is
    ``Text: {text}\\nLabel: {label}`` (one field) or the fields named in turn, ``premise: ...`` then
    ``hypothesis: ...`` (several)."""
    fields = [f.strip() for f in text_field.split(",") if f.strip()]
    if not fields or not label_field.strip():
        raise ConfigError(f"--text-field {text_field!r} / --label-field {label_field!r}: give column names")
    train_ex = examples_from_records(read_records(train, "--train"), str(train), text_fields=fields,
                                     label_field=label_field)
    test_ex = examples_from_records(read_records(test, "--test"), str(test), text_fields=fields,
                                    label_field=label_field)
    classes = sorted({e.label for e in train_ex})
    verbalizer = dict(verbalizer or {})
    unknown = sorted(set(verbalizer) - set(classes))
    if unknown:
        raise ConfigError(f"--verbalizer: label {unknown[0]!r} is not in {train} (labels: {', '.join(classes)})")
    if template is None:
        template = ("Text: {text}\nLabel: {label}" if len(fields) == 1 else
                    "\n".join(f"{f}: {{{f}}}" for f in fields) + "\nLabel: {label}")
    fmt = PromptFormat(template=template, instruction=instruction)
    if len(fmt.fields) != len(fields):
        raise ConfigError(f"--template names {len(fmt.fields)} field(s) ({', '.join(fmt.fields)}) but "
                          f"--text-field gives {len(fields)} ({', '.join(fields)})")
    words = tuple(verbalizer.get(c, c.replace("_", " ")) for c in classes)
    return LabelledDataset(Path(train).stem, tuple(classes), words, tuple(train_ex), tuple(test_ex), fmt)
