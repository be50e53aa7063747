"""First-order policy-gradient MAML: the MAML-RL space without the second-order estimator (it has none)."""

from __future__ import annotations

from typing import Any

from search_spaces.maml_rl import common


def space(trial: Any) -> dict[str, Any]:
    return common(trial)
