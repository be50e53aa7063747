"""Any Hugging Face ``datasets`` text-classification set as a task family (needs the hub, or a local copy)."""

from __future__ import annotations

from typing import Any

from metaopt._imports import require
from metaopt.errors import ConfigError
from prompting.tasks.base import TaskFamily, split_classes

__all__ = ["hf_family", "family_from_dataset"]


def hf_family(name: str, *, split: str = "train", config: str | None = None) -> TaskFamily:
    """``datasets.load_dataset(name, config, split=split)``; label names from its ``ClassLabel`` feature."""
    datasets = require("datasets", "datasets")
    try:
        ds = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # hub, network and missing-config errors come in many types
        raise ConfigError(f"could not load Hugging Face dataset {name!r}: {str(exc).splitlines()[0]}") from exc
    return family_from_dataset(ds, name)


def family_from_dataset(ds: Any, name: str, *, text_column: str | None = None,
                        label_column: str | None = None) -> TaskFamily:
    """Group a ``datasets.Dataset`` by its class label; verbalisers are the label names, underscores as spaces."""
    features = ds.features
    label_column = label_column or next((c for c in ("label", "labels", "intent", "coarse_label")
                                         if c in features), None)
    if label_column is None or not hasattr(features[label_column], "names"):
        raise ConfigError(f"{name}: no ClassLabel column found; columns are {', '.join(features)}")
    text_column = text_column or next((c for c in ("text", "sentence", "content", "question") if c in features),
                                      None)
    if text_column is None:
        raise ConfigError(f"{name}: no text column found; columns are {', '.join(features)}")
    names = list(features[label_column].names)
    texts: dict[str, list[str]] = {n: [] for n in names}
    for text, label in zip(ds[text_column], ds[label_column]):
        texts[names[int(label)]].append(str(text))
    texts = {k: v for k, v in texts.items() if v}
    classes = sorted(texts)
    if len(classes) < 4:
        raise ConfigError(f"{name} has {len(classes)} classes; disjoint meta-train and test classes need at least 4")
    return TaskFamily(name, texts, {c: c.replace("_", " ") for c in classes},
                      split_classes(len(classes), (0.5, 0.0)))
