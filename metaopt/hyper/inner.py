"""Learned inner-loop hyperparameters for any gradient-based meta-learner.

``attach_inner_hyperparameters(learner)`` gives a ``GradientMetaLearner`` learned inner learning
rates (per layer and/or per step: MAML++'s LSLR is the per-layer per-step case; per element:
Meta-SGD's case), and optionally a learned momentum and weight decay per adapted tensor. They
reach ``higher`` through ``override=`` via the learner's ``InnerLoop``, live in
``learner.parameters()`` (so the outer optimiser trains them) and in its ``state_dict`` (so
checkpoints resume). Rates and decays are log-parametrised (always positive);
``ProjectInnerHyperparameters`` clips them into their bounds after each outer step.
"""

from __future__ import annotations

import torch
from torch import nn

from metaopt.callbacks import Callback
from metaopt.errors import ConfigError
from metaopt.hyper._bounds import Bounds, HyperParameter, HyperParameters

__all__ = ["InnerHyperparameters", "attach_inner_hyperparameters", "ProjectInnerHyperparameters"]


class InnerHyperparameters(nn.Module):
    """Learned inner-loop settings for ``num_tensors`` adapted tensors over ``steps`` inner steps.

    ``lr`` has shape (steps or 1, num_tensors or 1) by ``per_step`` / ``per_layer``; with
    ``element_shapes`` (the adapted tensors' shapes) every element gets its own rate instead, as in
    Meta-SGD (then ``lr_i`` has shape (steps or 1, *shape_i)). ``momentum`` and ``weight_decay``
    (learned only when given an initial value) have one entry per tensor. Steps beyond ``steps``
    (longer evaluation adaptation) reuse the last step's rates.
    """

    def __init__(self, num_tensors: int, steps: int, *, lr: float = 0.01, lr_bounds: Bounds = (1e-5, 1.0),
                 per_step: bool = True, per_layer: bool = True, momentum: float | None = None,
                 momentum_bounds: Bounds = (0.0, 0.99), weight_decay: float | None = None,
                 weight_decay_bounds: Bounds = (1e-8, 1.0),
                 element_shapes: list[tuple[int, ...]] | None = None) -> None:
        super().__init__()
        if num_tensors < 1 or steps < 1:
            raise ConfigError(f"need at least one adapted tensor and one step, got {num_tensors} and {steps}")
        self.num_tensors, self.steps = num_tensors, steps
        self.per_element = element_shapes is not None
        rows = steps if per_step else 1
        if element_shapes is not None:
            if len(element_shapes) != num_tensors:
                raise ConfigError(f"got {len(element_shapes)} element shapes for {num_tensors} adapted tensors")
            self.hypers = HyperParameters({f"lr_{i}": HyperParameter("inner lr", lr, lr_bounds, "lr", (rows, *shape))
                                           for i, shape in enumerate(element_shapes)})
        else:
            shape = (rows, num_tensors if per_layer else 1)
            self.hypers = HyperParameters({"lr": HyperParameter("inner lr", lr, lr_bounds, "lr", shape)})
        if momentum is not None:
            self.hypers["momentum"] = HyperParameter("inner momentum", momentum, momentum_bounds, "momentum",
                                                     (num_tensors,))
        if weight_decay is not None:
            self.hypers["weight_decay"] = HyperParameter("inner weight_decay", weight_decay, weight_decay_bounds,
                                                         "weight_decay", (num_tensors,))

    def rates(self, step: int) -> list[torch.Tensor]:
        """One rate per adapted tensor for inner step ``step`` (``InnerLoop``'s ``lr`` schedule)."""
        if self.per_element:
            tables = [self.hypers.value(f"lr_{i}") for i in range(self.num_tensors)]
            return [t[min(step, t.shape[0] - 1)] for t in tables]
        table = self.hypers.value("lr")
        row = table[min(step, table.shape[0] - 1)]
        return [row[min(i, row.shape[0] - 1)] for i in range(self.num_tensors)]

    def overrides(self, step: int) -> dict[str, list[torch.Tensor]]:
        """Learned momentum / weight decay per tensor (``InnerLoop``'s ``overrides`` schedule)."""
        return {name: list(self.hypers.value(name).unbind()) for name in ("momentum", "weight_decay")
                if name in self.hypers}

    def project_(self) -> None:
        self.hypers.project_()

    def scalars(self) -> dict[str, float]:
        """Every learned value by name; per-element rates as mean/min/max per tensor and step
        (thousands of per-element metrics would swamp an MLflow run)."""
        if not self.per_element:
            return self.hypers.scalars()
        out = {k: v for k, v in self.hypers.scalars().items() if not k.startswith("lr_")}
        for i in range(self.num_tensors):
            table = self.hypers.value(f"lr_{i}").detach()
            for step, row in enumerate(table):
                for stat in ("mean", "min", "max"):
                    out[f"lr.{step}.{i}.{stat}"] = float(getattr(row, stat)())
        return out


def attach_inner_hyperparameters(learner: nn.Module, **options) -> InnerHyperparameters:
    """Give ``learner`` (a ``GradientMetaLearner``) learned inner hyperparameters and return them.

    Call before building the trainer, so its outer optimiser includes them. ``options`` go to
    ``InnerHyperparameters`` (plus ``per_element=True`` for Meta-SGD-style rates shaped like the
    adapted tensors); the initial rate defaults to the learner's ``inner_lr``.
    """
    from metaopt.algorithms.gbml import GradientMetaLearner

    if not isinstance(learner, GradientMetaLearner):
        raise ConfigError(f"{getattr(learner, 'name', type(learner).__name__)} is not a gradient-based meta-learner; "
                          "learned inner hyperparameters need one (maml, fomaml, anil, metasgd, mamlpp, ...)")
    if options.get("momentum") is not None and learner.config.inner_optimizer == "adam":
        raise ConfigError("a learned inner momentum needs inner_optimizer sgd or momentum, not adam")
    options.setdefault("lr", learner.config.inner_lr)
    if options.pop("per_element", False):
        options["element_shapes"] = [tuple(p.shape) for p in learner.inner.params]
    hypers = InnerHyperparameters(learner.inner.num_tensors, learner.config.inner_steps, **options)
    learner.inner_hypers = hypers
    return hypers


class ProjectInnerHyperparameters(Callback):
    """Keeps the learner's inner hyperparameters inside their bounds after every outer step."""

    def on_iteration_end(self, trainer, iteration: int, metrics: dict[str, float]) -> None:
        hypers = getattr(trainer.learner, "inner_hypers", None)
        if hypers is not None:
            hypers.project_()
