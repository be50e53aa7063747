"""A Hugging Face ``datasets`` classification set as a :class:`LabelledDataset` (online, or from its cache)."""

from __future__ import annotations

from metaopt._imports import require
from metaopt.errors import ConfigError
from prompting.datasets.base import LabelledDataset
from prompting.prompt import PromptFormat
from prompting.tasks.base import Example

__all__ = ["hf_dataset"]

_TEXT = ("text", "sentence", "content", "question")
_LABEL = ("label", "labels", "coarse_label", "intent")


def hf_dataset(spec: str) -> LabelledDataset:
    """``NAME`` or ``NAME:CONFIG`` (``glue:sst2``), or a local folder ``datasets`` reads (JSON Lines / CSV files
    named by split): the ``train`` split is the pool, ``test`` the queries (or ``validation`` where the test
    labels are hidden, as in GLUE); label words are the ClassLabel names, or the labels themselves."""
    datasets = require("datasets", "datasets")
    name, _, config = spec.partition(":")
    try:
        splits = datasets.load_dataset(name, config or None)
    except Exception as exc:  # hub, network and missing-config errors come in many types
        raise ConfigError(f"--dataset hf:{spec}: could not load it ({str(exc).splitlines()[0]})") from exc
    train = splits["train"] if "train" in splits else None
    test_name = next((s for s in ("test", "validation") if s in splits and _labelled(splits[s])), None)
    if train is None or test_name is None:
        raise ConfigError(f"--dataset hf:{spec}: needs a train split and a labelled test or validation split "
                          f"(has {', '.join(splits)})")
    features = train.features
    label = next((c for c in _LABEL if c in features), None)
    text = next((c for c in _TEXT if c in features), None)
    if label is None or text is None:
        raise ConfigError(f"--dataset hf:{spec}: no label and text columns among {', '.join(features)}")
    # A ClassLabel column names its classes; plain string labels (a local folder of JSON Lines or CSV files)
    # are their own names, in sorted order.
    names = (list(features[label].names) if hasattr(features[label], "names") else
             sorted({str(y) for y in train[label]}))

    def examples(split: object) -> tuple[Example, ...]:
        named = hasattr(features[label], "names")
        return tuple(Example(" ".join(str(t).split()), names[int(y)] if named else str(y))
                     for t, y in zip(split[text], split[label]))  # type: ignore[index]

    return LabelledDataset(f"hf:{spec}", tuple(names), tuple(n.replace("_", " ") for n in names),
                           examples(train), examples(splits[test_name]), PromptFormat())


def _labelled(split: object) -> bool:
    """Whether a split has labels (GLUE's test splits hold -1 for every example)."""
    labels = next((split[c] for c in _LABEL if c in split.column_names), None)  # type: ignore[attr-defined]
    return labels is not None and any(not isinstance(y, int) or y >= 0 for y in labels[:100])
