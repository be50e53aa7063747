"""Hand-designed baselines that meta-learners are compared against (not registered learners)."""

from metaopt.baselines.bandits import BASELINES, play_baseline
from metaopt.baselines.gridworld import GRID_BASELINES, play_search

__all__ = ["BASELINES", "GRID_BASELINES", "play_baseline", "play_search"]
