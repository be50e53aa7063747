"""Meta-learning on your own tasks: write a TaskSource, then train, evaluate and tune on it.

    python examples/custom_tasks.py --out runs/example-custom

Two sources of your own, each a small class with ``kind``, ``n_way`` and ``sample(rng) -> Task``:

- ``Blobs`` (few-shot classification): each class is a point in 8-D space and its examples are noisy
  copies of it. Meta-train, validation and test classes come from disjoint banks of 40 / 10 / 10 centres,
  so the source is given as a dict of split -> source.
- ``Quadratics`` (few-shot regression): y = a x^2 + b x + c with random a, b, c; one source serves every
  split (the splits then differ by their seed streams, as the sinusoid benchmark's do).

A source object goes straight into ``RunConfig(benchmark=...)``. To use one from the command line, from
``metaopt tune``, or to re-open a saved run by name, name a function that returns it:
``--benchmark custom_tasks:quadratics`` (with this folder on PYTHONPATH), as the tuning below does.
Re-running resumes each run from its checkpoint in --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from metaopt.runs import RunConfig, build_run, load_run, save_run_config
from metaopt.tasks.base import Task, TaskSource

DIM = 8


class Blobs(TaskSource):
    """N-way K-shot episodes over a fixed bank of class centres (one bank per split: unseen test classes)."""

    kind = "classification"

    def __init__(self, centres: np.ndarray, ways: int = 5, shots: int = 1, queries: int = 5, noise: float = 0.6):
        self.centres, self.n_way, self.shots, self.queries, self.noise = centres, ways, shots, queries, noise

    def sample(self, rng: np.random.Generator) -> Task:
        chosen = self.centres[rng.choice(len(self.centres), self.n_way, replace=False)]
        per_class = self.shots + self.queries
        x = chosen[:, None, :] + self.noise * rng.standard_normal((self.n_way, per_class, DIM))
        x = torch.as_tensor(x, dtype=torch.float32)
        y = torch.arange(self.n_way)
        # Support in label-ordered blocks of `shots` (what Task.shots promises), queries after.
        return Task(x[:, : self.shots].reshape(-1, DIM), y.repeat_interleave(self.shots),
                    x[:, self.shots :].reshape(-1, DIM), y.repeat_interleave(self.queries),
                    "classification", self.n_way, self.shots)


class Quadratics(TaskSource):
    """y = a x^2 + b x + c, a, b, c ~ U[-1, 1], x ~ U[-2, 2]: K support and Q query points."""

    kind = "regression"
    n_way = None

    def __init__(self, shots: int = 10, queries: int = 10):
        self.shots, self.queries = shots, queries

    def sample(self, rng: np.random.Generator) -> Task:
        a, b, c = rng.uniform(-1, 1, size=3)
        x = rng.uniform(-2, 2, size=(self.shots + self.queries, 1))
        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(a * x**2 + b * x + c, dtype=torch.float32)
        return Task(xt[: self.shots], yt[: self.shots], xt[self.shots :], yt[self.shots :], "regression")


def blobs() -> dict[str, TaskSource]:
    """Disjoint class banks per split, from a fixed seed: the same classes on every machine."""
    bank = np.random.default_rng(1234).uniform(-2, 2, size=(60, DIM))
    return {"train": Blobs(bank[:40]), "val": Blobs(bank[40:50]), "test": Blobs(bank[50:])}


def quadratics() -> TaskSource:
    return Quadratics()


def train_and_evaluate(name: str, benchmark, algorithm: str, args: argparse.Namespace) -> dict:
    out = Path(args.out) / name
    run = build_run(RunConfig(algorithm, benchmark, train={"iterations": args.iterations, "meta_batch": 8,
                                                           "val_every": max(1, args.iterations // 4),
                                                           "val_tasks": args.tasks}))
    save_run_config(out, run.config)
    trainer = run.trainer(out, progress=not args.no_progress)
    trainer.fit()
    trainer.use_best()
    result = trainer.evaluate("test", args.tasks)
    # A saved run built from a source object re-opens with the same source.
    again = load_run(out, benchmark=benchmark).trainer(progress=False).evaluate("test", args.tasks)
    assert again.mean == result.mean
    print(f"{name}: {algorithm} {result}", flush=True)
    return {"algorithm": algorithm, "metric": result.metric, "mean": result.mean, "ci95": result.ci95,
            "tasks": result.n_tasks}


def tune_quadratics(args: argparse.Namespace) -> dict:
    import optuna

    from metaopt.tuning import TuneConfig, tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Tuning names the source (`module:function`) so that every trial, and the saved runs, can rebuild it.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    out = Path(args.out).resolve()
    summary = tune(TuneConfig(
        benchmark="custom_tasks:quadratics", algorithms=["maml"], trials=args.trials, iterations=args.iterations,
        val_every=max(1, args.iterations // 4), val_tasks=args.tasks, test_tasks=args.tasks,
        storage=f"sqlite:///{out}/optuna.db", study="custom-quadratics", tracking_uri=f"sqlite:///{out}/mlflow.db",
        runs_dir=str(out / "trials"), register_model=False, progress=not args.no_progress,
    ))
    print(f"tuned maml on quadratics: {summary['trials']} trials, best {summary.get('params')}, test "
          f"{summary.get('metric')} {summary.get('test_mean')}", flush=True)
    return {k: summary.get(k) for k in ("trials", "params", "metric", "test_mean", "test_ci95")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200, help="meta-iterations per run and per trial")
    parser.add_argument("--tasks", type=int, default=100, help="validation and test tasks")
    parser.add_argument("--trials", type=int, default=3, help="tuning trials (0: skip tuning)")
    parser.add_argument("--out", default="runs/example-custom")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    summary = {"blobs": train_and_evaluate("blobs", blobs(), "protonet", args),
               "quadratics": train_and_evaluate("quadratics", quadratics(), "maml", args)}
    if args.trials:
        summary["tuned"] = tune_quadratics(args)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
