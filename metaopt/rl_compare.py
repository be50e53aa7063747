"""Regret of RL^2 and MAML-RL runs and hand-designed baselines on the same fixed test tasks (``metaopt rl-compare``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from metaopt.errors import ConfigError
from metaopt.evaluation import mean_ci95
from metaopt.tasks.benchmarks import get_benchmark
from metaopt.tasks.rl import make_env
from metaopt.trainer import TEST_SEED

__all__ = ["compare", "rl2_regrets"]


def rl2_regrets(learner: torch.nn.Module, tasks: Sequence, batch: int = 100, progress: bool = False) -> torch.Tensor:
    """Regret per task of a trained RL^2 learner, rolled out ``batch`` tasks at a time (a task's
    trial does not depend on its batch, so this equals ``learner.score`` task by task)."""
    from metaopt.algorithms.rl2 import rollout

    chunks = range(0, len(tasks), batch)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="rl2", leave=False)
    learner.eval()
    with torch.no_grad():
        return torch.cat([rollout(learner.model, tasks[i : i + batch]).regret for i in chunks])


def _maml_rl_row(learner: torch.nn.Module, directory: str, tasks: Sequence) -> tuple[str, torch.Tensor]:
    """Regret per task of a policy-gradient MAML run's adapted policy (mean over its ``episodes`` trials).
    Its adaptation played ``steps x episodes`` further trials of the task, which the name says."""
    c = learner.config
    steps = c.eval_inner_steps if c.eval_inner_steps is not None else c.inner_steps
    learner.eval()
    regrets = torch.tensor([learner.score(task) for task in tasks])
    return f"{learner.name} ({directory}; adapted on {steps}x{c.episodes} extra trials)", regrets


def compare(
    benchmark: str, *, ways: int | None, shots: int | None, n_tasks: int, checkpoints: Sequence[str] = (),
    baselines: Sequence[str] | None = None, seed: int = 0, progress: bool = False,
) -> dict[str, Any]:
    """Mean ± 95% CI regret (and expected return) for each baseline and each rl2 checkpoint."""
    from metaopt.baselines import BASELINES, GRID_BASELINES, play_baseline
    from metaopt.runs import load_run

    bench = get_benchmark(benchmark)
    if bench.kind != "rl":
        raise ConfigError(f"rl-compare needs an RL benchmark, not {benchmark!r}")
    ways = ways if ways is not None else bench.default_ways
    shots = shots if shots is not None else bench.default_shots
    source = bench.sources(ways=ways, shots=shots, queries=0)["test"]
    tasks = source.fixed_tasks(n_tasks, TEST_SEED)
    if baselines is None:
        baselines = list(BASELINES) if benchmark == "bandit" else ["random", *GRID_BASELINES]
    for name in baselines:
        if name not in BASELINES and name not in GRID_BASELINES:
            raise ConfigError(f"unknown baseline {name!r}; choose from ucb1, thompson, random (bandits) "
                              "or random, search (grid worlds)")
    results: dict[str, dict[str, float]] = {}
    oracle = float(make_env(tasks).oracle_return().mean())

    def add(name: str, regret: torch.Tensor) -> None:
        mean, ci = mean_ci95(regret.tolist())
        results[name] = {"mean": mean, "ci95": ci, "return": oracle - mean}

    for name in baselines:
        add(name, GRID_BASELINES[name](tasks, seed) if name in GRID_BASELINES else play_baseline(name, tasks, seed))
    for directory in checkpoints:
        run = load_run(directory)
        cfg = run.config
        if cfg.benchmark != benchmark or cfg.ways != ways or cfg.shots != shots:
            raise ConfigError(f"checkpoint {directory} is {cfg.algorithm} on {cfg.benchmark} "
                              f"--ways {cfg.ways} --shots {cfg.shots}, not {benchmark} --ways {ways} --shots {shots}")
        if cfg.algorithm in ("maml-rl", "fomaml-rl"):
            add(*_maml_rl_row(run.learner, directory, tasks))
            continue
        if cfg.algorithm != "rl2":
            raise ConfigError(f"checkpoint {directory} is {cfg.algorithm!r}; rl-compare plays rl2, maml-rl and "
                              "fomaml-rl runs")
        add(f"rl2 ({directory})", rl2_regrets(run.learner, tasks, progress=progress))
    return {"benchmark": benchmark, "ways": ways, "shots": shots, "tasks": n_tasks, "oracle_return": oracle,
            "results": results}
