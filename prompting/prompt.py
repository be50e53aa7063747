"""The prompt format: an instruction naming the labels, the demonstrations in order, then the query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prompting.tasks.base import Example

__all__ = ["build_prompt", "continuations"]


def build_prompt(labels: Mapping[str, str], demos: Sequence[Example], query: str) -> str:
    """``labels`` maps class name to verbaliser, in the task's class order."""
    head = f"Classify each text as one of: {', '.join(labels.values())}.\n\n"
    body = "".join(f"Text: {d.text}\nLabel: {labels[d.label]}\n\n" for d in demos)
    return f"{head}{body}Text: {query}\nLabel:"


def continuations(labels: Mapping[str, str]) -> list[str]:
    """What the LM scores after ``Label:`` for each class, in class order."""
    return [" " + v for v in labels.values()]
