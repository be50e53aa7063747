"""metaopt: tune meta-learners with Optuna and MLflow, learn hyperparameters by gradient.

Importing this package is cheap: torch-heavy modules load on first use of the names below.
"""

from __future__ import annotations

from metaopt._gymnasium import register_when_imported
from metaopt._imports import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "Task": "metaopt.tasks.base",
    "get_benchmark": "metaopt.tasks.benchmarks",
    "available_benchmarks": "metaopt.tasks.benchmarks",
    "get_learner": "metaopt.algorithms",
    "available_learners": "metaopt.algorithms",
    "MetaLearner": "metaopt.algorithms",
    "MetaTrainer": "metaopt.trainer",
    "TrainConfig": "metaopt.trainer",
    "ConfigError": "metaopt.errors",
}

__all__ = ["__version__", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY)

# gymnasium.make("metaopt/Nav2D-v0") etc. once gymnasium is imported; gymnasium itself is not imported here
register_when_imported()
