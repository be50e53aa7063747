"""Hand-designed baselines that meta-learners are compared against (not registered learners)."""

from metaopt.baselines.bandits import BASELINES, play_baseline

__all__ = ["BASELINES", "play_baseline"]
