"""The ``--param KEY=VALUE`` check the prompt commands share (compare, tune, fit): a key no chosen selector takes,
or a value of the wrong type, is named as the user typed it, before any model loads."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_param_types"]


def check_param_types(selectors: Any, params: dict[str, Any], *, unknown_ok: bool = False) -> None:
    """A ``--param`` value whose type does not fit what a chosen selector takes (its default's type) fails
    now, naming it, instead of inside the first task after the model loads."""
    import inspect

    from metaopt.errors import ConfigError
    from prompting.selectors import SELECTORS

    known = [name for name in selectors if name in SELECTORS]
    takes = {key for name in known for key, p in inspect.signature(SELECTORS[name].__init__).parameters.items()
             if key != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    unused = sorted(set(params) - takes)
    if unused and known and not unknown_ok:
        raise ConfigError(f"--param {unused[0]}: none of the selectors {', '.join(known)} takes it (they take "
                          f"{', '.join(sorted(takes - {'scorer', 'report'})) or 'nothing'})")
    for name in selectors:
        if name not in SELECTORS:
            continue  # CompareConfig.validate names it
        for key, parameter in inspect.signature(SELECTORS[name].__init__).parameters.items():
            if key not in params or parameter.default is inspect.Parameter.empty or parameter.default is None:
                continue
            value, default = params[key], parameter.default
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            fits = (isinstance(value, bool) if isinstance(default, bool) else
                    isinstance(value, (int, float)) and not isinstance(value, bool) and
                    (isinstance(default, float) or isinstance(value, int)) if numeric else
                    isinstance(value, type(default)))
            if not fits or (numeric and isinstance(value, float) and not math.isfinite(value)):
                raise ConfigError(f"--param {key}={value!r}: selector {name} takes {type(default).__name__} values "
                                  f"(default {default!r})")
