"""Samplers by name, seeded."""

from __future__ import annotations

import warnings

import optuna

from metaopt.errors import ConfigError

__all__ = ["SAMPLERS", "make_sampler"]

SAMPLERS: tuple[str, ...] = ("tpe", "random", "cmaes", "gp", "nsga2")


def make_sampler(name: str, *, seed: int | None, n_objectives: int = 1) -> optuna.samplers.BaseSampler:
    """One of :data:`SAMPLERS`. TPE is multivariate and grouped, because the joint space is conditional
    (each algorithm's parameters exist only when it is chosen), and uses a constant liar so parallel
    workers do not all sample next to the same running trial."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "cmaes":
            if n_objectives > 1:
                raise ConfigError("sampler 'cmaes' optimises one objective; use nsga2, tpe or gp with --objectives")
            # Categorical parameters (the algorithm, the inner optimiser) fall back to random sampling.
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
    raise ConfigError(f"unknown sampler {name!r}; choose from {', '.join(SAMPLERS)}")
