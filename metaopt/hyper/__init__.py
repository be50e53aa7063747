"""Hyperparameters learned by gradient: inner-loop hyperparameters of meta-learners, hypergradient
descent on the outer learning rate, unrolled (truncated) and implicit (IFT) hypergradients.

Importing this package is cheap; the names below load their (torch) modules on first use.
"""

from __future__ import annotations

from metaopt._imports import lazy_getattr

_LAZY = {
    "HyperParameter": "metaopt.hyper._bounds",
    "HyperParameters": "metaopt.hyper._bounds",
    "check_bounds": "metaopt.hyper._bounds",
    "HDSGD": "metaopt.hyper.hd",
    "HDAdam": "metaopt.hyper.hd",
    "hd_optimizer": "metaopt.hyper.hd",
    "UnrolledConfig": "metaopt.hyper.unrolled",
    "UnrolledTuner": "metaopt.hyper.unrolled",
    "unrolled_validation_loss": "metaopt.hyper.unrolled",
    "IFTConfig": "metaopt.hyper.ift",
    "IFTTuner": "metaopt.hyper.ift",
    "ift_hypergradient": "metaopt.hyper.ift",
    "neumann_inverse_hvp": "metaopt.hyper.ift",
    "InnerHyperparameters": "metaopt.hyper.inner",
    "attach_inner_hyperparameters": "metaopt.hyper.inner",
    "ProjectInnerHyperparameters": "metaopt.hyper.inner",
    "ClassificationProblem": "metaopt.hyper.problems",
    "load_problem": "metaopt.hyper.problems",
    "log_trajectory": "metaopt.hyper.tracking",
    "TrajectoryCallback": "metaopt.hyper.tracking",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
