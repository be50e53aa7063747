"""What tests/test_distributed.py computes, once in one process and once per rank of a gloo group.

Run as a script with a launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each rank writes
``rank{R}.pt`` into the folder named by its first argument; imported, the same functions give the one-process
reference. Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metaopt.runs import RunConfig, build_run
from metaopt.tasks.base import TaskSource
from metaopt.trainer import MetaTrainer

# name -> (algorithm, benchmark, dtype, learner options, training options). Meta-batches of 3 split 2 + 1 over
# two ranks; ProtoNets' meta-batch of 1 leaves rank 1 without a task.
GRADIENT_CASES: dict[str, tuple[str, str, torch.dtype, dict[str, Any], dict[str, Any]]] = {
    "maml-f32": ("maml", "sinusoid", torch.float32, {}, {}),
    "maml-f64": ("maml", "sinusoid", torch.float64, {}, {}),
    "maml-higher-f64": ("maml", "sinusoid", torch.float64, {}, {"engine": "higher"}),
    "maml-checkpoint-f64": ("maml", "sinusoid", torch.float64, {}, {"inner_checkpoint": True}),
    "maml-clip-f64": ("maml", "sinusoid", torch.float64, {}, {"grad_clip": 1e-3}),
    "anil-f32": ("anil", "sinusoid", torch.float32, {}, {}),
    "anil-f64": ("anil", "sinusoid", torch.float64, {}, {}),
    "metasgd-f32": ("metasgd", "sinusoid", torch.float32, {}, {}),
    "metasgd-f64": ("metasgd", "sinusoid", torch.float64, {}, {}),
    "mamlpp-f32": ("mamlpp", "fashion-mnist", torch.float32, {"inner_steps": 2}, {}),
    "mamlpp-f64": ("mamlpp", "fashion-mnist", torch.float64, {"inner_steps": 2}, {}),
    "protonet-f32": ("protonet", "fashion-mnist", torch.float32, {}, {}),
    "protonet-f64": ("protonet", "fashion-mnist", torch.float64, {}, {}),
    "protonet-batch1-f64": ("protonet", "fashion-mnist", torch.float64, {}, {"meta_batch": 1}),
}

# A short run: validations at 3 and 6, over 7 validation tasks (4 + 3 per rank), then 9 test tasks.
RUN = {"iterations": 6, "meta_batch": 3, "val_every": 3, "val_tasks": 7}
TEST_TASKS = 9


class Cast(TaskSource):
    """``source``'s tasks with floating tensors in ``dtype`` (float64 gradient checks)."""

    def __init__(self, source: TaskSource, dtype: torch.dtype) -> None:
        self.source, self.dtype = source, dtype
        self.kind, self.n_way = source.kind, source.n_way

    def sample(self, rng: np.random.Generator) -> Any:
        task = self.source.sample(rng)
        cast = {f.name: getattr(task, f.name).to(self.dtype) for f in dataclasses.fields(task)
                if isinstance(getattr(task, f.name), torch.Tensor) and getattr(task, f.name).is_floating_point()}
        return dataclasses.replace(task, **cast)


def outer_step_gradient(case: str) -> dict[str, Any]:
    """The gradient the optimiser steps on (after any all-reduce and clipping) in iteration 0, and its meta-loss."""
    algorithm, benchmark, dtype, learner, train = GRADIENT_CASES[case]
    shape = {"ways": 3, "shots": 1, "queries": 2} if benchmark == "fashion-mnist" else {"shots": 5, "queries": 5}
    run = build_run(RunConfig(algorithm, benchmark, **shape, learner=learner,
                              train={"meta_batch": 3, "val_tasks": 1, **train}))
    run.learner.to(dtype)
    sources = {split: Cast(source, dtype) for split, source in run.sources.items()}
    trainer = MetaTrainer(run.learner, sources, run.train_config, progress=False)
    seen: dict[str, Any] = {}

    def capture(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        seen["grads"] = [None if p.grad is None else p.grad.detach().clone()
                         for group in optimizer.param_groups for p in group["params"]]

    trainer.optimizer.register_step_pre_hook(capture)  # after the trainer's own hooks: sees what Adam steps on
    seen["meta_loss"] = trainer.outer_step(0)["meta_loss"]
    return seen


def short_run(out: Path | None = None, iterations: int = RUN["iterations"]) -> dict[str, Any]:
    """Validation history and per-task test scores of a short MAML run (resumed from ``out`` if it holds one)."""
    run = build_run(RunConfig("maml", "sinusoid", shots=5, queries=5, train={**RUN, "iterations": iterations}))
    trainer = run.trainer(out, progress=False)
    state = trainer.fit().state
    trainer.use_best()
    test = trainer.evaluate("test", TEST_TASKS)
    return {"history": state.history, "test": test.per_task, "mean": test.mean}


def main(folder: str, resume_from: str, fresh: str) -> None:
    from metaopt import distributed

    distributed.init(distributed.launch_env(), torch.device("cpu"))
    try:
        results: dict[str, Any] = {"world": distributed.world_size(), "rank": distributed.rank()}
        results["gradients"] = {case: outer_step_gradient(case) for case in GRADIENT_CASES}
        results["run"] = short_run()
        # Train half a run on two processes (one process finishes it), and finish one that one process began.
        short_run(Path(fresh), iterations=RUN["iterations"] // 2)
        results["resumed"] = short_run(Path(resume_from))
        torch.save(results, Path(folder) / f"rank{distributed.rank()}.pt")
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:4])
