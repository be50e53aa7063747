"""What the prompt commands share (compare, tune, fit): the ``--param KEY=VALUE`` check (a key no chosen selector
takes, or a value of the wrong type, is named as the user typed it, before any model loads) and the partial
result ``--resume`` continues."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["check_param_types", "saved_result", "load_models"]


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


def saved_result(args: argparse.Namespace, cfg: Any,
                 check: Callable[[Any, Mapping[str, Any]], None]) -> dict[str, Any] | None:
    """The partial result ``--resume`` continues (None when ``--out`` does not exist yet), checked against this
    command's options before the slow loads (``check(cfg, saved)``: the mode's own comparison of configs)."""
    import json
    from pathlib import Path

    from metaopt.errors import ConfigError

    if not args.out:
        raise ConfigError("--resume needs --out FILE: the partial result to continue")
    path = Path(args.out)
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--resume: {args.out} is not a result of prompt compare ({exc})") from None
    if not isinstance(saved, dict):
        raise ConfigError(f"--resume: {args.out} is not a result of prompt compare")
    if saved.get("dtype") != args.dtype:
        raise ConfigError(f"--resume: {args.out} was scored in {saved.get('dtype')}, not --dtype {args.dtype}")
    check(cfg, saved)
    return saved


def load_models(args: argparse.Namespace, resume: Mapping[str, Any] | None) -> tuple[Any, Any]:
    """The frozen LM and the sentence encoder of a comparison (``--model --dtype --device --encoder``, loading
    bars hidden with ``--no-progress``); a ``resume`` scored with another model is refused once the LM's name
    is known."""
    from metaopt.errors import ConfigError
    from prompting.encoder import SentenceEncoder
    from prompting.lm import FrozenLM, hide_load_progress

    if args.no_progress:
        hide_load_progress()
    lm = FrozenLM.load(args.model, dtype=args.dtype, device=args.device)
    if resume is not None and resume.get("model") != lm.name:
        raise ConfigError(f"--resume: {args.out} was scored with model {resume.get('model')!r}, not {lm.name!r}")
    return lm, SentenceEncoder(args.encoder, device=args.device)
