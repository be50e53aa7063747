"""Return after k policy-gradient adaptation steps (MAML's figure for 2-D navigation), with 95% intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metaopt.evaluation import mean_ci95

__all__ = ["adaptation_curve"]

def adaptation_curve(learner: Any, tasks: Sequence, steps: Sequence[int] = (0, 1, 3)) -> dict[int, dict[str, float]]:
    """Mean ± 95% CI over ``tasks`` of the adapted policy's mean trial return (and regret) after each
    number of ``steps``; every learner meets the same tasks and, per task, the same seeds."""
    learner.eval()
    out: dict[int, dict[str, float]] = {}
    for k in steps:
        returns, regrets = [], []
        for task in tasks:
            traj = learner.evaluate_task(task, k)
            returns.append(float(traj.rewards.sum(0).mean()))
            regrets.append(float(traj.regret.mean()))
        mean, ci = mean_ci95(returns)
        regret, regret_ci = mean_ci95(regrets)
        out[k] = {"return": mean, "ci95": ci, "regret": regret, "regret_ci95": regret_ci}
    return out
