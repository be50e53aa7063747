"""ANIL (Raghu et al. 2020): MAML's hyperparameters (they reuse MAML's 0.4 / 1 step for Omniglot);
only the head adapts, so larger inner rates and more steps are cheap and searched the same way."""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    return {**gbml(trial), **outer(trial)}
