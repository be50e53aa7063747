"""Few-shot example selection for a frozen causal LM: LM wrapper, text task families, selectors, comparison.

Importing this package is cheap; the names below load their (torch, transformers) modules on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FrozenLM": "prompting.lm",
    "SentenceEncoder": "prompting.encoder",
    "get_family": "prompting.tasks",
    "Example": "prompting.tasks.base",
    "TextTask": "prompting.tasks.base",
    "TaskFamily": "prompting.tasks.base",
    "make_selector": "prompting.selectors",
    "SELECTORS": "prompting.selectors",
    "build_prompt": "prompting.prompt",
    "CompareConfig": "prompting.compare",
    "compare": "prompting.compare",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prompting' has no attribute {name!r}")
