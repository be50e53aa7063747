"""What a study is: benchmark, space, budget, sampler, pruner, storage, workers, objectives."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from metaopt.errors import ConfigError

__all__ = ["TuneConfig", "OBJECTIVES", "TRAIN_KEYS"]

OBJECTIVES: tuple[str, ...] = ("accuracy", "mse", "regret", "time")
# Keys of a space's dict that configure the outer loop (TrainConfig); every other key is the learner's.
TRAIN_KEYS: frozenset[str] = frozenset({"outer_lr", "meta_batch", "grad_clip"})


@dataclass
class TuneConfig:
    benchmark: str
    ways: int | None = None
    shots: int | None = None
    queries: int | None = None
    algorithms: list[str] = field(default_factory=list)  # empty: every algorithm with a space for the benchmark
    space: Any = None  # "module:function" or (one worker only) a callable: a user's space instead of the joint one
    trials: int | None = None
    timeout: float | None = None  # seconds per worker; no new trial starts after it
    iterations: int = 500  # each trial's meta-training budget
    val_every: int | None = None  # None: a tenth of the budget
    val_tasks: int = 100
    test_tasks: int = 600
    sampler: str = "tpe"
    pruner: str | None = None  # None: median for one objective, none for several
    storage: str | None = None
    study: str | None = None
    workers: int = 1
    objectives: list[str] = field(default_factory=list)  # empty: the benchmark's score (accuracy or mse)
    seed: int = 0
    tracking_uri: str | None = None
    runs_dir: str = "runs"
    data_root: str | None = None
    heartbeat_interval: int = 10
    register_model: bool = True
    progress: bool = True
    device: str | None = None  # torch device of every trial (workers share it); None: the CPU
    engine: str = "auto"  # inner-loop engine of every trial: auto (batched where the learner allows), higher
    inner_checkpoint: bool = False  # checkpointed inner steps in every trial whose learner can (memory)
    reproducible: bool = False  # synchronous seeded batches: the same trials with any number of workers
    batch_size: int = 4  # trials per batch with ``reproducible``

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def checkpoint_for(self, learner: Any) -> bool:
        """Whether ``learner``'s trial checkpoints its inner loop: asked for, and the learner can."""
        return (self.inner_checkpoint and getattr(learner, "inner_loop", None) is not None
                and not getattr(learner, "checkpoint_reason", None))

    @property
    def eval_every(self) -> int:
        return self.val_every or max(1, self.iterations // 10)

    @property
    def pruner_name(self) -> str:
        if self.pruner is not None:
            return self.pruner
        return "median" if len(self.objectives) <= 1 else "none"

    def validate(self) -> None:
        for name in ("iterations", "val_tasks", "test_tasks", "workers", "heartbeat_interval"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.trials is not None and self.trials < 1:
            raise ConfigError(f"--trials must be a positive integer, got {self.trials}")
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigError(f"--timeout must be positive, got {self.timeout}")
        if self.trials is None and self.timeout is None:
            raise ConfigError("give a budget: --trials N or --timeout SECONDS")
        if self.space is not None and not isinstance(self.space, str) and self.workers > 1:
            raise ConfigError("worker processes import the space: give it as module:function, not a callable")
        if self.device is not None:
            from metaopt.device import resolve_device

            resolve_device(self.device)
        from metaopt.engines import check_inner_checkpoint

        check_inner_checkpoint(self.inner_checkpoint, self.engine)  # also checks the engine's name
        if self.val_every is not None and self.val_every < 1:
            raise ConfigError(f"val_every must be a positive integer, got {self.val_every}")
        if self.reproducible:
            if self.trials is None or self.batch_size < 1:
                raise ConfigError("--reproducible needs --trials N (and a positive --batch-size)")
            if "time" in self.objectives:
                raise ConfigError("--reproducible cannot optimise time: seconds per iteration differ run to run")
            if self.pruner == "hyperband":
                raise ConfigError("--reproducible supports --pruner median, sha, wilcoxon or none, not hyperband")
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad or not self.objectives or len(set(self.objectives)) != len(self.objectives):
            raise ConfigError(f"bad --objectives {','.join(self.objectives)!r}; use accuracy (or mse) "
                              "optionally followed by ,time")
        if self.objectives[0] == "time" or "time" in self.objectives[:-1] or len(self.objectives) > 2:
            raise ConfigError(f"bad --objectives {','.join(self.objectives)!r}: the first is the score "
                              "(accuracy or mse), optionally followed by time")
        if len(self.objectives) > 1 and self.pruner not in (None, "none"):
            raise ConfigError(f"--pruner {self.pruner} needs one objective: Optuna cannot prune "
                              "multi-objective trials (use --pruner none)")
