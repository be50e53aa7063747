"""One entry point per method, shared by the CLI and the comparison benchmark.

Classifier methods (``unrolled``, ``ift``, ``hd``, and ``fixed``: plain training with given
hyperparameters, what a search trial runs) train a fresh seeded model on a ``ClassificationProblem``
and return its trajectory and final validation/test scores. Meta methods (``inner``, ``hd`` with a
meta-learner) meta-train a registered algorithm through ``MetaTrainer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from metaopt.hyper.hd import HDSGD, current_lrs, hd_optimizer
from metaopt.hyper.ift import IFTConfig, IFTTuner
from metaopt.hyper.problems import ClassificationProblem
from metaopt.hyper.unrolled import UnrolledConfig, UnrolledTuner

__all__ = ["MethodResult", "train_fixed", "run_unrolled", "run_ift", "run_hd", "run_meta", "CLASSIFIER_METHODS"]

CLASSIFIER_METHODS = ("unrolled", "ift", "hd")


@dataclass
class MethodResult:
    """Final scores (``val_loss``, ``val_accuracy``, ``test_loss``, ``test_accuracy`` or the meta
    metric), the training steps consumed, the final hyperparameters and the trajectory."""

    scores: dict[str, float]
    steps: int
    hyperparameters: dict[str, float]
    trajectory: list[dict[str, float]] = field(default_factory=list)
    model: Any = field(default=None, repr=False)


def _scores(problem: ClassificationProblem, model: nn.Module) -> dict[str, float]:
    val, test = problem.evaluate(model, "val"), problem.evaluate(model, "test")
    return {"val_loss": val["loss"], "val_accuracy": val["accuracy"],
            "test_loss": test["loss"], "test_accuracy": test["accuracy"]}


def _data_loss(problem: ClassificationProblem, seed: int):
    return lambda module, step: problem.loss(module, *problem.batch(seed, step))


def _val_loss(problem: ClassificationProblem, seed: int, size: int | None):
    return lambda module, step: problem.loss(module, *problem.val_batch(seed, step, size))


def train_fixed(problem: ClassificationProblem, *, lr: float, weight_decay: float = 0.0, momentum: float = 0.0,
                steps: int, seed: int = 0) -> MethodResult:
    """Plain SGD with fixed hyperparameters (the update rule the unrolled method differentiates)."""
    model = problem.model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    loss_fn = _data_loss(problem, seed)
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, step)
        if not torch.isfinite(loss):
            break  # a diverged trial: report its (infinite or NaN) scores, as a search would see them
        loss.backward()
        opt.step()
    hp = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum}
    return MethodResult(_scores(problem, model), steps, hp, model=model)


def run_unrolled(problem: ClassificationProblem, config: UnrolledConfig, *, steps: int, seed: int = 0,
                 val_batch: int | None = None, progress: bool = False) -> MethodResult:
    model = problem.model(seed)
    tuner = UnrolledTuner(model, config, _data_loss(problem, seed), _val_loss(problem, seed, val_batch))
    trajectory = tuner.run(steps, progress=progress)
    return MethodResult(_scores(problem, model), steps, tuner.hyperparameters(), trajectory, model)


def run_ift(problem: ClassificationProblem, config: IFTConfig, *, steps: int, seed: int = 0,
            val_batch: int | None = None, progress: bool = False) -> MethodResult:
    model = problem.model(seed)
    tuner = IFTTuner(model, config, _data_loss(problem, seed), _val_loss(problem, seed, val_batch))
    trajectory = tuner.run(steps, progress=progress)
    final = {"lr": config.lr, "momentum": config.momentum, **tuner.learned.scalars()}
    return MethodResult(_scores(problem, model), steps, final, trajectory, model)


def run_hd(problem: ClassificationProblem, *, optimizer: str = "sgd", lr: float = 0.05, hyper_lr: float = 0.02,
           momentum: float = 0.0, weight_decay: float = 0.0, steps: int, seed: int = 0, log_every: int = 10,
           rule: str = "multiplicative", progress: bool = False) -> MethodResult:
    """Train with HD-SGD or HD-Adam: the learning rate is learned online from successive gradients."""
    model = problem.model(seed)
    kwargs: dict[str, Any] = {"hyper_lr": hyper_lr, "weight_decay": weight_decay, "rule": rule}
    if optimizer == "sgd":
        kwargs["momentum"] = momentum
    opt = hd_optimizer(optimizer, model.parameters(), lr, **kwargs)
    loss_fn = _data_loss(problem, seed)
    trajectory, losses = [], []
    iterator = range(steps)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"HD-{optimizer}")
    for step in iterator:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, step)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if (step + 1) % log_every == 0 or step + 1 == steps:
            trajectory.append({"step": float(step + 1), "train_loss": sum(losses) / len(losses),
                               "val_objective": problem.evaluate(model, "val")["loss"], "lr": current_lrs(opt)[0]})
            losses = []
    final = {"lr": current_lrs(opt)[0], "weight_decay": weight_decay}
    if isinstance(opt, HDSGD):
        final["momentum"] = momentum
    return MethodResult(_scores(problem, model), steps, final, trajectory, model)


def run_meta(method: str, run_config: Any, *, hd: str | None = None, hyper_lr: float = 0.02,
             inner_options: dict[str, Any] | None = None, test_tasks: int = 100, progress: bool = False,
             out_dir: str | None = None) -> MethodResult:
    """Meta-train ``run_config`` (a ``metaopt.runs.RunConfig``) learning hyperparameters by gradient.

    ``method="inner"`` attaches learned inner hyperparameters (``inner_options`` as for
    ``attach_inner_hyperparameters``); ``hd`` ("sgd"/"adam") makes the outer optimiser HD-SGD/HD-Adam
    (``method="hd"`` requires it). Scores are on ``test_tasks`` fixed meta-test tasks.
    """
    from metaopt.hyper.inner import ProjectInnerHyperparameters, attach_inner_hyperparameters
    from metaopt.hyper.tracking import TrajectoryCallback
    from metaopt.runs import build_run

    run = build_run(run_config)
    callbacks: list[Any] = []
    if method == "inner":
        attach_inner_hyperparameters(run.learner, **(inner_options or {}))
        callbacks.append(ProjectInnerHyperparameters())
    trajectory = TrajectoryCallback(every=max(1, run.train_config.iterations // 200))
    callbacks.append(trajectory)
    factory = None
    if hd is not None:
        def factory(params, lr):
            return hd_optimizer(hd, params, lr, hyper_lr=hyper_lr)
    trainer = run.trainer(out_dir, callbacks=callbacks, progress=progress, optimizer_factory=factory)
    state = trainer.fit().state
    trainer.use_best()
    result = trainer.evaluate("test", test_tasks, progress=progress)
    final = {k: v for k, v in trajectory.rows[-1].items() if k not in ("step", "meta_loss")} if trajectory.rows else {}
    scores = {"test_" + result.metric: result.mean, "test_ci95": result.ci95, "best_val": state.best}
    return MethodResult(scores, state.iteration, final, trajectory.rows, run.learner)
