"""Meta-Curvature (Park & Oliva 2019): MAML's settings (inner SGD 0.4 for Omniglot 5-way, 1 step,
Adam 1e-3); the curvature matrices are learned from the identity, so they add no knob to search.
Plain SGD inside: the learned curvature is itself the preconditioner."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    return {**gbml(trial, optimizers=("sgd",)), **outer(trial)}
