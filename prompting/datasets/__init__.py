"""Labelled datasets with a fixed label set (SST-2, AGNews, TREC, RTE, a user's own files, ``hf:`` sets):
the ground most users and the in-context-learning literature have, beside the class-split task families."""

from __future__ import annotations

import functools
from pathlib import Path

from prompting.datasets.base import LabelledDataset
from prompting.datasets.files import dataset_from_files, parse_verbalizer
from prompting.datasets.standard import STANDARD, available_standard, default_data_root, load_standard

__all__ = ["LabelledDataset", "STANDARD", "get_dataset", "dataset_from_files", "parse_verbalizer",
           "available_standard", "default_data_root", "load_standard"]


@functools.lru_cache(maxsize=8)
def get_dataset(name: str, data_root: str | None = None) -> LabelledDataset:
    """A standard set by name from ``data_root``, or ``hf:NAME`` (``hf:NAME:CONFIG``) from the Hugging Face hub
    or its cache; loaded once per process."""
    if name.startswith("hf:"):
        from prompting.datasets.hf import hf_dataset

        return hf_dataset(name[3:])
    return load_standard(name, Path(data_root) if data_root else None)
