"""Checking hyperparameter values against a config dataclass's field types, so that ``--param weight=abc``
fails in one line naming the value instead of deep inside training with a TypeError."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from metaopt.errors import ConfigError

__all__ = ["check_field_types"]


def check_field_types(cls: type, values: dict[str, Any], owner: str) -> dict[str, Any]:
    """``values`` with ints given for float fields made floats; ConfigError naming the first value whose
    type does not fit its field (``bool``, ``int``, ``float``, ``str``, optionally ``| None``), or a float
    that is inf or nan. Keys that are not fields, and fields of other types, are left to the caller."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    checked = dict(values)
    for key, value in values.items():
        if key not in fields:
            continue
        hint = hints.get(key)
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        options = typing.get_args(hint) if union else (hint,)
        if value is None and type(None) in options:
            continue
        simple = [t for t in options if t in (bool, int, float, str)]
        if not simple or len(simple) != len([t for t in options if t is not type(None)]):
            continue  # a type this check does not know: the config's own validate() decides
        converted = _convert(value, simple)
        if converted is _BAD:
            wanted = " or ".join(_NAMES[t] for t in simple) + (" or null" if type(None) in options else "")
            raise ConfigError(f"{owner} {key} must be {wanted}, got {value!r}")
        checked[key] = converted
    return checked


_BAD = object()
_NAMES = {bool: "true/false", int: "an integer", float: "a finite number", str: "a string"}


def _convert(value: Any, types_: list[type]) -> Any:
    for kind in types_:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) if math.isfinite(value) else _BAD
        if kind is str and isinstance(value, str):
            return value
    return _BAD
