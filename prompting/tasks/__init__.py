"""Text task families by name: ``wordnet``, ``fortunes`` (``fortunes-de``, ``fortunes-es``), ``chatterbot``,
``hf:<dataset>`` for a Hugging Face text-classification set, and ``jsonl:<path>`` for your own labelled texts."""

from __future__ import annotations

import functools

from metaopt.errors import ConfigError
from prompting.tasks.base import Example, TaskFamily, TextTask, split_classes

__all__ = ["Example", "TextTask", "TaskFamily", "split_classes", "FAMILIES", "get_family"]

FAMILIES = {
    "wordnet": "WordNet glosses labelled with 45 lexicographer supersenses (Debian wordnet-base)",
    "fortunes": "topics of English fortune files (Debian fortunes); fortunes-de / fortunes-es for German, Spanish",
    "chatterbot": "conversation topics of chatterbot-corpus (PyPI); chatterbot-<language> for others",
    "hf:NAME": "any Hugging Face datasets text-classification set with a ClassLabel column (online)",
    "jsonl:PATH": "your own labelled texts: one JSON object with 'text' and 'label' per line",
}


@functools.lru_cache(maxsize=8)
def get_family(name: str) -> TaskFamily:
    """Load a family once per process (parsing WordNet takes a few seconds)."""
    if name == "wordnet":
        from prompting.tasks.wordnet import wordnet_family

        return wordnet_family()
    if name == "fortunes" or name.startswith("fortunes-"):
        from prompting.tasks.fortunes import ALLOWED_TOPICS, fortunes_family

        lang = name.partition("-")[2] or "en"
        if lang not in ALLOWED_TOPICS:
            raise ConfigError(f"no fortune allow-list for language {lang!r}; have {', '.join(ALLOWED_TOPICS)}")
        return fortunes_family(lang)
    if name == "chatterbot" or name.startswith("chatterbot-"):
        from prompting.tasks.chatterbot import chatterbot_family

        return chatterbot_family(name.partition("-")[2] or "english")
    if name.startswith("jsonl:"):
        from prompting.tasks.local import jsonl_family

        return jsonl_family(name[6:])
    if name.startswith("hf:"):
        from prompting.tasks.hf import hf_family

        return hf_family(name[3:])
    raise ConfigError(f"unknown task family {name!r}; choose from {', '.join(FAMILIES)}")
