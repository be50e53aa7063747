"""Prompt formats: an instruction, the demonstrations in order, then the query, each through one template.

A :class:`PromptFormat` is part of a task: the task families use :data:`DEFAULT_FORMAT` (an instruction naming
the labels, ``Text: ...`` / ``Label: ...``); a labelled dataset brings its own (Zhao et al. 2021's
``Review: ...`` / ``Sentiment: ...`` for SST-2, a text pair for RTE), and a user may give one as
``--template "Review: {text}\\nSentiment: {label}"``. :class:`ChatFormat` wraps any format in a tokenizer's
chat template for instruct models.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metaopt.errors import ConfigError
from prompting.tasks.base import Example

__all__ = ["PromptFormat", "ChatFormat", "PromptFormatLike", "DEFAULT_FORMAT", "build_prompt", "continuations",
           "parse_template"]


@dataclass(frozen=True)
class PromptFormat:
    """``template`` renders one example: it names the example's fields (``{text}``, or e.g. ``{premise}`` and
    ``{hypothesis}`` for a text pair) and ends with ``{label}``. The query is rendered up to ``{label}`` with
    trailing spaces cut; those spaces lead each scored label instead (``Sentiment:`` then `` Positive``), which
    is how the LM's tokenizer sees a label word after a colon. ``instruction`` comes first; a ``{labels}`` in
    it becomes the label words joined by commas. Demonstrations are separated by ``separator``."""

    template: str = "Text: {text}\nLabel: {label}"
    instruction: str = ""
    separator: str = "\n\n"

    def __post_init__(self) -> None:
        parse_template(self.template)
        try:
            self.instruction.format(labels="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"prompt instruction {self.instruction!r}: only {{labels}} may be filled in "
                              f"({exc})") from None

    @property
    def fields(self) -> tuple[str, ...]:
        return parse_template(self.template)

    def _head_tail(self) -> tuple[str, str]:
        head = self.template[: self.template.rindex("{label}")]
        stripped = head.rstrip(" ")
        return stripped, head[len(stripped):]

    def _render(self, example: Example | str, label: str | None) -> str:
        values = _field_values(example, self.fields)
        head, gap = self._head_tail()
        text = head.format(**values)
        return text if label is None else f"{text}{gap}{label}"

    def build(self, labels: Mapping[str, str], demos: Sequence[Example], query: Example | str) -> str:
        """``labels`` maps class name to label word, in the task's class order."""
        head = self.instruction.format(labels=", ".join(labels.values()))
        body = "".join(self._render(d, labels[d.label]) + self.separator for d in demos)
        return f"{head}{body}{self._render(query, None)}"

    def continuations(self, labels: Mapping[str, str]) -> list[str]:
        """What the LM scores after the query for each class, in class order."""
        gap = self._head_tail()[1]
        return [gap + v for v in labels.values()]


class ChatFormat:
    """``inner``'s prompt as the user's message of a chat, scored as the assistant's reply
    (``tokenizer.apply_chat_template(..., add_generation_prompt=True)``); labels carry no leading space there."""

    def __init__(self, inner: PromptFormat, tokenizer: Any) -> None:
        if getattr(tokenizer, "chat_template", None) is None:
            raise ConfigError("--chat: this model's tokenizer has no chat template (use an instruct model)")
        self.inner, self.tokenizer = inner, tokenizer

    def build(self, labels: Mapping[str, str], demos: Sequence[Example], query: Example | str) -> str:
        message = [{"role": "user", "content": self.inner.build(labels, demos, query)}]
        return str(self.tokenizer.apply_chat_template(message, tokenize=False, add_generation_prompt=True))

    def continuations(self, labels: Mapping[str, str]) -> list[str]:
        return list(labels.values())


# What selectors and the harness take: a format, or None for the families' default.
PromptFormatLike = PromptFormat | ChatFormat | None


def parse_template(template: str) -> tuple[str, ...]:
    """The fields a template names before its final ``{label}``; ConfigError for any other shape."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"--template {template!r}: {exc}") from None
    if not template.endswith("{label}") or names.count("label") != 1:
        raise ConfigError(f"--template {template!r}: must end with {{label}} and name it once")
    fields = tuple(n for n in names if n != "label")
    bad = [n for n in fields if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
    if not fields or bad:
        raise ConfigError(f"--template {template!r}: needs at least one field such as {{text}}, named plainly"
                          + (f" (got {{{bad[0]}}})" if bad else ""))
    return tuple(dict.fromkeys(fields))


def _field_values(example: Example | str, fields: tuple[str, ...]) -> dict[str, str]:
    if isinstance(example, str):  # a bare text fills every field (calibration's content-free inputs)
        return {f: example for f in fields}
    if example.parts:
        if len(example.parts) != len(fields):
            raise ConfigError(f"an example has {len(example.parts)} fields, the template names {len(fields)} "
                              f"({', '.join(fields)})")
        return dict(zip(fields, example.parts))
    return {f: example.text for f in fields}


DEFAULT_FORMAT = PromptFormat(instruction="Classify each text as one of: {labels}.\n\n")


def build_prompt(labels: Mapping[str, str], demos: Sequence[Example], query: Example | str,
                 fmt: PromptFormatLike = None) -> str:
    """The prompt in ``fmt`` (default :data:`DEFAULT_FORMAT`); ``labels`` maps class name to label word."""
    return (fmt or DEFAULT_FORMAT).build(labels, demos, query)


def continuations(labels: Mapping[str, str], fmt: PromptFormatLike = None) -> list[str]:
    """What the LM scores after the query for each class, in class order."""
    return (fmt or DEFAULT_FORMAT).continuations(labels)
