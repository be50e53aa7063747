"""The meta-learner protocol and the registry every algorithm joins by name."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from metaopt._fields import check_field_types
from metaopt.engines import Engine, check_compile, check_inner_checkpoint
from metaopt.errors import ConfigError
from metaopt.tasks.base import Task
from metaopt.typing import TaskKind

__all__ = [
    "LearnerConfig",
    "MetaLearner",
    "register",
    "get_learner",
    "available_learners",
    "build_config",
    "task_loss",
    "task_metric",
    "split_refusal",
]


@dataclasses.dataclass
class LearnerConfig:
    """Hyperparameters of one algorithm. Subclasses add fields and extend ``validate``."""

    def validate(self) -> None:
        """Raise ConfigError naming the first bad value."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def task_loss(kind: TaskKind, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classification, mean squared error for regression."""
    if kind == "classification":
        return F.cross_entropy(prediction, target)
    return F.mse_loss(prediction, target)


def task_metric(kind: TaskKind, prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Accuracy (higher is better) for classification, MSE (lower is better) for regression."""
    if kind == "classification":
        return float((prediction.argmax(-1) == target).float().mean())
    return float(F.mse_loss(prediction, target))


class MetaLearner(nn.Module, ABC):
    """What every algorithm implements.

    A learner owns the model being meta-learned (``self.model``) plus any meta-parameters of its
    own (learned learning rates, curvature matrices); they are all in ``self.parameters()`` and
    in ``state_dict()``, so one outer optimiser and one checkpoint cover everything.

    The trainer calls ``begin_training`` once, then ``meta_step`` per iteration and ``predict``
    to evaluate. Algorithms never import Optuna or MLflow.
    """

    name: ClassVar[str]
    Config: ClassVar[type[LearnerConfig]] = LearnerConfig
    kinds: ClassVar[frozenset[str]] = frozenset({"classification", "regression"})
    outer_optimizer: ClassVar[str] = "adam"
    default_outer_lr: ClassVar[float] = 1e-3
    # Why the tasks of a meta-batch cannot run at once under ``vmap`` on the batched engine (they then
    # run one after another on it); None where they can.
    unbatched_reason: ClassVar[str | None] = None
    # The engine ``auto`` means for this learner (``higher`` where the batched engine cannot trace it).
    auto_engine: ClassVar[str] = "batched"
    # Why this learner's inner steps cannot be recomputed in the backward pass (``use_inner_checkpoint``);
    # None where they can.
    checkpoint_reason: ClassVar[str | None] = None
    # Whether adaptation is always first-order (no second-order graph, so nothing for checkpointing to save).
    first_order_inner: ClassVar[bool] = False
    # Whether the learner adapts through the inner-loop door (makes ``self.inner``): known before a model or any
    # data exists, so a run refuses an inner-loop option for a learner without one before it builds a dataset.
    has_inner_loop: ClassVar[bool] = False
    # Why this learner's meta-batch cannot be split across processes under torch.distributed (see
    # ``split_refusal``); None where it can.
    unsplittable_reason: ClassVar[str | None] = None

    def __init__(self, model: nn.Module, config: LearnerConfig, kind: TaskKind) -> None:
        super().__init__()
        if kind not in self.kinds:
            raise ConfigError(f"{self.name} cannot learn {kind} tasks; it handles {', '.join(sorted(self.kinds))}")
        config.validate()
        self.model = model
        self.config = config
        self.kind = kind
        self.total_iterations = 1
        self._compiled_meta_loss: Any = None  # set by use_compile

    @property
    def device(self) -> torch.device:
        """Where the learner's weights live (the CPU for a learner without parameters)."""
        first = next(self.parameters(), None)
        return first.device if first is not None else torch.device("cpu")

    @classmethod
    def model_options(cls, config: LearnerConfig) -> dict[str, Any]:
        """Extra keyword arguments for the model factory (MAML++ asks for per-step BatchNorm)."""
        return {}

    @property
    def inner_loop(self) -> Any:
        """The learner's door to adaptation (``metaopt.inner_loop.InnerLoop``), None without an inner loop."""
        return getattr(self, "inner", None)

    def use_engine(self, engine: str) -> tuple[str, str | None]:
        """Run adaptation on ``engine`` (``auto``, ``higher``, ``batched``).

        Returns the engine that runs it (``none`` for a learner without an inner loop) and, where
        that is not everything the request promised, one line saying why.
        """
        from metaopt.engines import resolve_engine_name

        name = self.auto_engine if engine == "auto" else resolve_engine_name(engine)
        loop = self.inner_loop
        if loop is None:
            return "none", (None if engine == "auto" else f"{self.name} has no inner loop; --engine does not apply")
        loop.use(name)
        if name == "batched" and self.unbatched_reason:
            return name, f"{self.name}: tasks run one after another on the batched engine ({self.unbatched_reason})"
        return name, None

    def use_inner_checkpoint(self, on: bool) -> str | None:
        """Recompute second-order inner steps in the backward pass (``on``) instead of keeping their
        activations. Returns one line on what that means for this learner, or None; raises ConfigError
        where the learner cannot (no inner loop, a loss with side effects, the ``higher`` engine)."""
        loop = self.inner_loop
        if not on:
            if loop is not None:
                loop.checkpoint = False
            return None
        if loop is None:
            raise _no_inner_loop(self.name, "--inner-checkpoint")
        check_inner_loop_options(type(self), inner_checkpoint=True, compile=False)
        check_inner_checkpoint(True, loop.engine.name)
        loop.checkpoint = True
        if self.first_order_inner or getattr(self.config, "first_order", False):
            return f"{self.name} adapts first-order and keeps no second-order graph: --inner-checkpoint saves nothing"
        return (f"{self.name}: --inner-checkpoint recomputes each second-order inner step in the backward pass; "
                "meta-batch tasks run one after another (no vmap)")

    def use_compile(self, on: bool) -> str | None:
        """Compile the vmapped meta-batch (every task's inner loop, the query losses and their mean) with
        ``torch.compile``. Returns one line on what that means for this learner, or None; raises ConfigError
        where it cannot apply (no inner loop, the ``higher`` engine, inner checkpointing)."""
        self._compiled_meta_loss = None
        if not on:
            return None
        loop = self.inner_loop
        if loop is None:
            raise _no_inner_loop(self.name, "--compile")
        check_compile(True, loop.engine.name)
        if loop.checkpoint:
            raise ConfigError("--compile and --inner-checkpoint do not combine: checkpointed steps run task by "
                              "task, outside vmap")
        why = self.unbatched_reason or (None if type(self).meta_step is MetaLearner.meta_step
                                        else "its meta-step is its own, not the vmapped meta-batch")
        if why:
            return f"{self.name}: --compile compiles nothing here ({why})"
        self._compiled_meta_loss = torch.compile(vmapped_meta_loss)
        return (f"{self.name}: --compile compiles the vmapped meta-batch in the first iterations (tens of seconds); "
                "image tasks on a CPU run one by one and stay uncompiled")

    def _batch(self, tasks: Sequence[Task], *, differentiable: bool = True) -> bool:
        """Whether these tasks run at once: the engine batches, the learner allows it, and they are
        episodes of one shape (an RL learner's environments or ragged episodes run one by one).
        A checkpointed step has no ``vmap`` rule, so checkpointed meta-steps (``differentiable``) run one by one."""
        from metaopt.engines.batched import stackable

        loop = self.inner_loop
        batching = loop is not None and loop.engine.batches and self.unbatched_reason is None
        batching = batching and not (differentiable and loop.checkpoint)
        if not (batching and len(tasks) > 1 and stackable(tasks)):
            return False
        # Images on a CPU: a Conv4 step is compute-bound there, and vmap's batched convolutions measured
        # 0.62x the speed of one task after another (benchmarks/engine_speed.py, docs/results/engine.md), so the
        # batched engine runs such tasks one by one (still without higher's per-task set-up). Small
        # models (sinusoid MLPs: 12x) and GPUs, where steps are launch-bound, batch.
        first = tasks[0].support_x
        return first.device.type != "cpu" or first.dim() < 4

    def map_tasks(self, fn: Callable[[Task], Any], tasks: Sequence[Task], *, differentiable: bool = True) -> Any:
        """``fn`` on every task, outputs stacked: at once where ``_batch`` says batching pays, else one by one.
        A learner with its own meta-step goes through here, not ``inner_loop.map_tasks``, so that the rule
        for images on a CPU holds for it too."""
        if self._batch(tasks, differentiable=differentiable):
            return self.inner_loop.map_tasks(fn, tasks, differentiable=differentiable)
        return Engine.map_tasks(self.inner_loop.engine, fn, tasks)

    def begin_training(self, total_iterations: int) -> None:
        """Told the full budget, so schedules (annealing) can be functions of the iteration."""
        self.total_iterations = max(1, total_iterations)

    def outer_lr_scale(self, iteration: int) -> float:
        """Factor on the outer learning rate at ``iteration`` (a pure function, so resumes are exact)."""
        return 1.0

    def loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return task_loss(self.kind, prediction, target)

    @abstractmethod
    def meta_loss(self, task: Task, iteration: int) -> torch.Tensor:
        """The differentiable meta-training loss of one task."""

    def meta_step(
        self, tasks: list[Task], optimizer: torch.optim.Optimizer, iteration: int, *, batch_size: int | None = None
    ) -> dict[str, float]:
        """One outer update on a meta-batch.

        On the batched engine the tasks run at once (``vmap``); otherwise backward runs per task so
        only one task's graph is alive. ``batch_size``: the whole meta-batch's size where ``tasks`` is one
        process's share of it (torch.distributed): losses are divided by it instead of by ``len(tasks)``, so each
        task's gradient is the one-process run's bit for bit and the ranks' gradients and returned meta-losses
        sum (all-reduce) to the whole batch's mean. Dividing by the share's size and re-weighting afterwards
        rounds differently in float32, by 1e-4 relative on Conv4 with batch-statistics BatchNorm.
        """
        optimizer.zero_grad(set_to_none=True)
        divisor = len(tasks) if batch_size is None else batch_size
        if self._batch(tasks):
            loss = (self._compiled_meta_loss or vmapped_meta_loss)(self, tasks, iteration, batch_size)
            loss.backward()
            optimizer.step()
            return {"meta_loss": float(loss.detach())}
        losses = []
        for task in tasks:
            loss = self.meta_loss(task, iteration)
            if divisor > 1:  # a meta-batch of one (ProtoNets' protocol) needs no average: no extra kernels
                loss = loss / divisor
            loss.backward()
            losses.append(loss.detach())
        optimizer.step()
        # One read of the device at the end: a float() per task would make a GPU wait mid-step.
        return {"meta_loss": float(losses[0] if len(losses) == 1 else torch.stack(losses).sum())}

    @abstractmethod
    def predict(self, task: Task, steps: int | None = None) -> torch.Tensor:
        """Adapt to ``task``'s support set and return predictions for its query set (no meta-graph)."""

    def score(self, task: Task, steps: int | None = None) -> float:
        """The task's metric on its query set after adaptation."""
        prediction = self.predict(task, steps)
        return task_metric(self.kind, prediction, task.query_y)

    def score_tasks(self, tasks: Sequence[Task], steps: int | None = None) -> list[float]:
        """``score`` of every task; on the batched engine the tasks adapt at once under ``vmap``."""
        if type(self).score is not MetaLearner.score or not self._batch(tasks, differentiable=False):
            return [self.score(task, steps) for task in tasks]
        predictions = self.inner_loop.map_tasks(lambda task: self.predict(task, steps), tasks, differentiable=False)
        return [task_metric(self.kind, p, task.query_y) for p, task in zip(predictions, tasks)]


def vmapped_meta_loss(
    learner: MetaLearner, tasks: Sequence[Task], iteration: int, batch_size: int | None = None
) -> torch.Tensor:
    """The mean meta-loss of a meta-batch whose tasks run at once (``vmap``): what ``--compile`` compiles.
    With ``batch_size`` (``tasks`` is one process's share of a meta-batch of that size), their sum over it."""
    losses = learner.inner_loop.map_tasks(lambda task: learner.meta_loss(task, iteration), tasks)
    return losses.mean() if batch_size is None else losses.sum() / batch_size


_REGISTRY: dict[str, type[MetaLearner]] = {}
_L = TypeVar("_L", bound=type[MetaLearner])


def register(cls: _L) -> _L:
    """Class decorator: make ``cls`` available by ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"learner name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def available_learners() -> list[str]:
    return sorted(_REGISTRY)


def check_inner_loop_options(learner_cls: type[MetaLearner], *, inner_checkpoint: bool, compile: bool) -> None:
    """Refuse ``--inner-checkpoint`` and ``--compile`` where the learner class cannot take them, from the class
    alone: a run checks this before it renders or loads any data."""
    for on, flag in ((inner_checkpoint, "--inner-checkpoint"), (compile, "--compile")):
        if on and not learner_cls.has_inner_loop:
            raise _no_inner_loop(learner_cls.name, flag)
    if inner_checkpoint and learner_cls.checkpoint_reason:
        raise ConfigError(f"{learner_cls.name} cannot checkpoint its inner loop: {learner_cls.checkpoint_reason}")


def split_refusal(learner_cls: type) -> str | None:
    """Why a meta-batch of ``learner_cls`` cannot be split across processes (torch.distributed), or None.

    Splitting is exact where the meta-step is the base one (the mean of independent per-task losses, one
    optimiser step: the trainer then all-reduces the weighted gradients) and no task's loss depends on the
    others'. A learner with its own meta-step (Reptile's parameter differences, TAML's batch-level entropy,
    RL learners' rollouts) or a duck-typed one could do anything with the meta-batch, so it is refused."""
    name = getattr(learner_cls, "name", learner_cls.__name__)
    if not (isinstance(learner_cls, type) and issubclass(learner_cls, MetaLearner)):
        return f"{name} is not a MetaLearner: the trainer cannot tell whether its meta-batch splits"
    if learner_cls.meta_step is not MetaLearner.meta_step:
        return f"{name} has its own meta-step, not a mean of independent per-task losses"
    return learner_cls.unsplittable_reason


def _no_inner_loop(name: str, flag: str) -> ConfigError:
    return ConfigError(f"{name} has no inner loop; {flag} does not apply")


def get_learner(name: str) -> type[MetaLearner]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown algorithm {name!r}; choose from {', '.join(available_learners())}") from None


def build_config(name: str, values: dict[str, Any] | None = None) -> LearnerConfig:
    """The algorithm's config with ``values`` applied; unknown keys and bad values raise ConfigError."""
    cls = get_learner(name).Config
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = dict(values or {})
    for key in values:
        if key not in known:
            raise ConfigError(f"{name} has no hyperparameter {key!r}; it has {', '.join(known) or 'none'}")
    config = cls(**check_field_types(cls, values, name))
    config.validate()
    return config
