"""Meta Networks (Munkhdalai & Yu 2017): the paper trains with Adam at 1e-3 and uses 3-layer fast-weight
generators with 20 units; we search Adam over one decade either side, generator widths 10-40, the
base learner's hidden layer and the representation (key) width in {32, 64, 128}, and the initial
fast-weight scale over [0.01, 1] (log), which sets how loudly generated weights speak at the start
(at 1 the glyph 5-way 1-shot run collapsed to uniform predictions; the default is 0.1)."""

from __future__ import annotations

from typing import Any

from search_spaces._common import outer


def space(trial: Any) -> dict[str, Any]:
    params = {
        "hidden": trial.suggest_categorical("hidden", [32, 64, 128]),
        "key_size": trial.suggest_categorical("key_size", [32, 64, 128]),
        "generator_hidden": trial.suggest_int("generator_hidden", 10, 40),
        "fast_scale": trial.suggest_float("fast_scale", 0.01, 1.0, log=True),
    }
    return {**params, **outer(trial, meta_batches=(4, 8, 16, 32))}
