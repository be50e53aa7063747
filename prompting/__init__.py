"""Few-shot example selection for a frozen causal LM: LM wrapper, text task families, selectors, comparison.

Importing this package is cheap; the names below load their (torch, transformers) modules on first use.
"""

from __future__ import annotations

from metaopt._imports import lazy_getattr

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
    "CompareConfig": "prompting.comparison",
    "compare": "prompting.comparison",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
