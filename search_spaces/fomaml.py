"""First-order MAML (Finn et al. 2017, section 5.2): MAML's ranges with the second-order term dropped."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    return {**gbml(trial, first_order=True), **outer(trial)}
