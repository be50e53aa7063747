"""Meta-training: meta-batches, an outer optimiser, validation, early stopping, exact resume."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from metaopt import distributed
from metaopt.algorithms.base import MetaLearner, split_refusal
from metaopt.callbacks import Callback, EarlyStopping, StopTraining
from metaopt.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from metaopt.device import resolve_device
from metaopt.errors import ConfigError
from metaopt.evaluation import EvalResult, eval_result, evaluate_tasks
from metaopt.tasks.base import Task, TaskSource, task_rng, to_device
from metaopt.train_state import TrainResult, TrainState
from metaopt.typing import Split

__all__ = ["TrainConfig", "TrainState", "TrainResult", "MetaTrainer", "TrainingDiverged", "VAL_SEED", "TEST_SEED",
           "progress_postfix"]

# Validation and test task sets depend on these constants only, never on the run's seed, so every
# algorithm and every seed is scored on identical tasks.
VAL_SEED = 1
TEST_SEED = 2


class TrainingDiverged(RuntimeError):
    """The meta-loss became NaN or infinite."""


@dataclass
class TrainConfig:
    iterations: int = 1000
    meta_batch: int = 16
    outer_lr: float | None = None  # None: the learner's default (1e-3 Adam; Reptile 1.0 SGD)
    val_every: int = 100
    val_tasks: int = 100
    patience: int | None = None  # validations without improvement before stopping; None: never
    grad_clip: float | None = None  # clip the outer gradient's global norm; None: no clipping
    seed: int = 0
    # Inner-loop engine: auto (batched where the learner allows), batched or higher. Like the device, a
    # choice of how to compute, not of what: a run resumes or evaluates on either engine.
    engine: str = "auto"
    # Recompute each second-order inner step in the backward pass instead of keeping its activations
    # (memory for long inner loops). Also how, not what: a run resumes with it on or off.
    inner_checkpoint: bool = False
    # torch.compile the vmapped meta-batch (how, not what: a run resumes with it on or off). Pays on small
    # models after its compile time (docs/results/engine.md); off by default.
    compile: bool = False

    def validate(self) -> None:
        for name in ("iterations", "meta_batch", "val_every", "val_tasks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.outer_lr is not None and not self.outer_lr > 0:
            raise ConfigError(f"outer_lr must be positive, got {self.outer_lr}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be positive, got {self.grad_clip}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be a positive integer, got {self.patience}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be an integer from 0 to 2**32 - 1, got {self.seed}")
        from metaopt.engines import check_compile, check_inner_checkpoint

        check_inner_checkpoint(self.inner_checkpoint, self.engine)  # also checks the engine's name
        check_compile(self.compile, self.engine)


def progress_postfix(metrics: dict[str, float], state: TrainState) -> dict[str, str]:
    """What the training bar shows beside the count: this iteration's meta-loss, the last validation score
    and the best one with its iteration (from the start of the run, resumes included)."""
    shown = {"meta_loss": f"{metrics['meta_loss']:.4f}"}
    if state.history:
        shown["val"] = f"{state.history[-1]['val']:.4f}"
    if state.best is not None:
        shown["best"] = f"{state.best:.4f}@{state.best_iteration}"
    return shown


class MetaTrainer:
    """Trains ``learner`` on tasks from ``sources['train']``, validating on fixed ``sources['val']`` tasks.

    With ``out_dir`` set, a checkpoint is written after every validation; ``fit`` resumes from it,
    and a resumed run reproduces an uninterrupted one exactly because each iteration's tasks are
    drawn from a generator keyed by (seed, iteration) and all optimiser state is saved.

    Under torch.distributed (``metaopt.distributed.init`` called first, as ``metaopt train`` does under torchrun)
    each rank adapts its share of every meta-batch and of the validation and test tasks; the weighted gradients
    are all-reduced before the optimiser steps and the scores gathered, so every rank holds the same model and
    the same history as one process would, to float rounding. Only rank 0 writes the checkpoint and shows bars.
    """

    def __init__(
        self,
        learner: MetaLearner,
        sources: dict[Split, TaskSource],
        config: TrainConfig,
        *,
        out_dir: str | Path | None = None,
        callbacks: list[Callback] | None = None,
        progress: bool = True,
        optimizer_factory: Callable[[list[torch.nn.Parameter], float], torch.optim.Optimizer] | None = None,
        device: str | torch.device | None = None,
        engine: str | None = None,
        inner_checkpoint: bool | None = None,
        compile: bool | None = None,
    ) -> None:
        """``optimizer_factory(params, lr)`` replaces the learner's outer optimiser (for example
        hypergradient descent, ``metaopt.hyper.hd_optimizer``); it must honour ``group["lr"]``,
        which the trainer sets every iteration from the learner's schedule. ``device`` (``cuda``,
        ``auto``, ...) moves the learner there and every task to it; None keeps the learner where it is.
        ``engine`` overrides ``config.engine``; ``self.engine`` is the engine that runs (``none`` for a
        learner without an inner loop) and ``self.engine_note`` one line on any fallback, or None.
        ``inner_checkpoint`` overrides ``config.inner_checkpoint`` (ConfigError where the learner cannot), and
        ``compile`` ``config.compile``."""
        config.validate()
        use_engine = getattr(learner, "use_engine", None)  # duck-typed learners have no inner-loop door
        self.engine, self.engine_note = use_engine(engine or config.engine) if use_engine else ("none", None)
        self.inner_checkpoint = config.inner_checkpoint if inner_checkpoint is None else inner_checkpoint
        self._use(learner, "use_inner_checkpoint", self.inner_checkpoint, "--inner-checkpoint")
        self.compile = config.compile if compile is None else compile
        self._use(learner, "use_compile", self.compile, "--compile")
        if device is not None:
            target = resolve_device(device)
            if learner.kind == "rl" and target.type != "cpu":
                raise ConfigError(f"{learner.name} runs on the CPU only: its environments are simulated there, "
                                  f"so device {str(device)!r} would only add transfers")
            learner.to(target)
        self.device = learner.device
        self.learner = learner
        self.sources = sources
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.callbacks = list(callbacks or [])
        if config.patience is not None:
            self.callbacks.append(EarlyStopping(config.patience))
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        if self.world_size > 1:
            why = split_refusal(type(learner))
            if why:
                raise ConfigError(f"{why}; it cannot train on {self.world_size} processes: run it in one")
        self.progress = progress and self.rank == 0
        self.state = TrainState()
        self.base_lr = config.outer_lr if config.outer_lr is not None else learner.default_outer_lr
        params = [p for p in learner.parameters() if p.requires_grad]
        if optimizer_factory is not None:
            self.optimizer: torch.optim.Optimizer = optimizer_factory(params, self.base_lr)
        elif learner.outer_optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=self.base_lr)
        else:
            self.optimizer = torch.optim.Adam(params, lr=self.base_lr)
        if self.world_size > 1:
            # Registered before the clip hook (hooks run in order), so clipping sees the whole meta-batch's gradient.
            self.optimizer.register_step_pre_hook(self._all_reduce)
        if config.grad_clip is not None:
            self.optimizer.register_step_pre_hook(self._clip)
        self.best_state: dict[str, torch.Tensor] | None = None
        self._val_tasks: list[Task] | None = None

    def _use(self, learner: MetaLearner, method: str, on: bool, flag: str) -> None:
        """Turn an inner-loop option on or off through ``learner.<method>``, adding its note to ``engine_note``;
        a duck-typed learner without the method has no inner loop, so asking for the option is refused."""
        use = getattr(learner, method, None)
        if use is not None:
            note = use(on)
            self.engine_note = "; ".join(n for n in (self.engine_note, note) if n) or None
        elif on:
            name = getattr(learner, "name", type(learner).__name__)
            raise ConfigError(f"{name} has no inner loop; {flag} does not apply")

    def _all_reduce(self, optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        distributed.all_reduce_gradients(params)

    def _clip(self, optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "learner": self.learner.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "best_state": self.best_state or {},
            "trainer": asdict(self.state),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def load_state_dict(self, data: dict[str, Any]) -> None:
        self.learner.load_state_dict(data["learner"])
        self.optimizer.load_state_dict(data["optimizer"])
        self.best_state = data["best_state"] or None
        self.state = TrainState(**data["trainer"])
        torch.set_rng_state(data["torch_rng"])
        if data.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(data["cuda_rng"], self.device)

    def save(self) -> None:
        if self.out_dir is not None and self.rank == 0:  # every rank holds the same state; one writer
            save_checkpoint(self.out_dir, self.state_dict())

    def resume(self) -> bool:
        """Load the checkpoint in ``out_dir`` if there is one; return whether it did."""
        if self.out_dir is None:
            return False
        path = self.out_dir / CHECKPOINT_FILE
        if self.world_size == 1:
            if not path.is_file():
                return False
            self.load_state_dict(load_checkpoint(self.out_dir))
            return True
        # Rank 0 reads the file and broadcasts its bytes: only rank 0 writes the run folder, so on several hosts
        # the others may not see it at all; and every rank then resumes from the very same bytes.
        data, error = None, None
        if self.rank == 0 and path.is_file():
            try:
                data = path.read_bytes()
            except OSError as exc:
                error = f"cannot read checkpoint {path}: {exc.strerror or exc}"
        error = distributed.first_error(error)
        if error:
            raise ConfigError(error)
        data = distributed.broadcast_bytes(data)
        if data is None:
            return False
        self.load_state_dict(load_checkpoint(self.out_dir, data=data))
        return True

    # -- loop -------------------------------------------------------------------------------
    def _mine(self, n: int) -> range:
        """The indices of ``n`` tasks this rank handles (all of them in one process)."""
        return distributed.share(n, self.world_size, self.rank)

    def train_tasks(self, iteration: int) -> list[Task]:
        """This rank's tasks of the meta-batch of ``iteration`` (the whole meta-batch in one process): task ``b``
        is keyed by (seed, iteration, b) alone, so a rank samples only its own."""
        source = self.sources["train"]
        return [to_device(source.sample(task_rng(self.config.seed, 1, iteration, b)), self.device)
                for b in self._mine(self.config.meta_batch)]

    def validation_tasks(self) -> list[Task]:
        """The fixed validation tasks this rank scores (all of them in one process)."""
        if self._val_tasks is None:
            tasks = self.sources["val"].fixed_tasks(self.config.val_tasks, VAL_SEED)
            share = self._mine(len(tasks))
            self._val_tasks = [to_device(task, self.device) for task in tasks[share.start:share.stop]]
        return self._val_tasks

    def outer_step(self, iteration: int) -> dict[str, float]:
        """One outer update at ``iteration``, at the learner's scheduled learning rate; its metrics. Under
        torch.distributed this rank adapts its share of the meta-batch, and ``meta_loss`` is the whole batch's."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr * self.learner.outer_lr_scale(iteration)
        tasks = self.train_tasks(iteration)
        if self.world_size == 1:
            return self.learner.meta_step(tasks, self.optimizer, iteration)
        # Each rank divides its tasks' losses by the whole batch's size, so the gradients and meta-losses that the
        # all-reduce sums (the gradients in the _all_reduce hook) are the whole batch's mean.
        if tasks:
            metrics = self.learner.meta_step(tasks, self.optimizer, iteration, batch_size=self.config.meta_batch)
        else:  # fewer tasks than ranks: nothing to adapt here, but this rank must join the gradient's all-reduce
            self.optimizer.zero_grad(set_to_none=True)
            self.optimizer.step()
            metrics = {"meta_loss": 0.0}
        return {**metrics, "meta_loss": distributed.all_reduce_sum(metrics["meta_loss"])}

    def _evaluate(self, tasks: list[Task], **kwargs: Any) -> EvalResult:
        """Score this rank's ``tasks`` (its share) and, under torch.distributed, gather every rank's scores in
        task order, so every rank sees the same result."""
        if self.world_size == 1:
            return evaluate_tasks(self.learner, tasks, **kwargs)
        scores = evaluate_tasks(self.learner, tasks, **kwargs).per_task if tasks else []
        return eval_result(self.learner.kind, distributed.gather(scores))

    def fit(self) -> TrainResult:
        cfg = self.config
        self.resume()
        self.learner.begin_training(cfg.iterations)
        self.learner.train()
        for cb in self.callbacks:
            cb.on_train_begin(self)
        last: EvalResult | None = None
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.iterations, initial=self.state.iteration, desc=f"meta-train {self.learner.name}")
        try:
            while self.state.iteration < cfg.iterations and self.state.stopped_early is None:
                started = time.perf_counter()
                it = self.state.iteration
                metrics = self.outer_step(it)
                if not math.isfinite(metrics["meta_loss"]):
                    raise TrainingDiverged(f"meta-loss became {metrics['meta_loss']} at iteration {it}")
                self.state.iteration = it + 1
                for cb in self.callbacks:
                    cb.on_iteration_end(self, it + 1, metrics)
                self.state.train_seconds += time.perf_counter() - started
                if (it + 1) % cfg.val_every == 0 or it + 1 == cfg.iterations:
                    last = self._validate(metrics)
                if bar is not None:
                    bar.set_postfix(progress_postfix(metrics, self.state), refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        result = TrainResult(self.state, last)
        for cb in self.callbacks:
            cb.on_train_end(self, result)
        return result

    def _validate(self, metrics: dict[str, float]) -> EvalResult:
        result = self._evaluate(self.validation_tasks())
        self.learner.train()
        st = self.state
        if result.better_than(st.best):
            st.best, st.best_iteration, st.bad_validations = result.mean, st.iteration, 0
            self.best_state = {k: v.detach().clone() for k, v in self.learner.state_dict().items()}
        else:
            st.bad_validations += 1
        st.history.append(
            {"iteration": st.iteration, "meta_loss": metrics["meta_loss"], "val": result.mean, "val_ci95": result.ci95}
        )
        try:
            for cb in self.callbacks:
                cb.on_validation_end(self, st.iteration, result)
        except StopTraining as stop:
            st.stopped_early = str(stop) or "stopped by a callback"
        finally:
            self.save()
        return result

    # -- evaluation -------------------------------------------------------------------------
    def use_best(self) -> None:
        """Load the weights of the best validation (the model the run reports)."""
        if self.best_state is not None:
            self.learner.load_state_dict(self.best_state)

    def evaluate(
        self, split: Split = "test", n_tasks: int = 600, *, steps: int | None = None, progress: bool | None = None
    ) -> EvalResult:
        seed = TEST_SEED if split == "test" else VAL_SEED
        tasks = self.sources[split].fixed_tasks(n_tasks, seed)
        share = self._mine(len(tasks))
        show = self.progress if progress is None else progress and self.rank == 0
        return self._evaluate(tasks[share.start:share.stop], steps=steps, progress=show, desc=f"evaluate {split}")
