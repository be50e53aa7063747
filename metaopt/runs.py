"""A run: everything needed to rebuild a learner on a benchmark, as one JSON-able config.

This is what the CLI (and later the tuner) hands around; ``config.json`` in a run directory is a
``RunConfig``, so ``metaopt evaluate --checkpoint DIR`` can rebuild the exact learner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from metaopt._fields import check_field_types
from metaopt.algorithms import LearnerConfig, MetaLearner, build_config, get_learner
from metaopt.algorithms.base import check_inner_loop_options
from metaopt.checkpoint import CONFIG_FILE, load_checkpoint, read_json, write_json
from metaopt.errors import ConfigError
from metaopt.models import default_model
from metaopt.tasks._memory import check_shape_fits
from metaopt.tasks.base import TaskSource
from metaopt.tasks.benchmarks import get_benchmark
from metaopt.tasks.custom import source_name
from metaopt.trainer import MetaTrainer, TrainConfig
from metaopt.typing import Split, TaskKind

__all__ = ["RunConfig", "Run", "build_run", "new_learner", "load_run", "save_run_config", "normalized"]


@dataclass
class RunConfig:
    """``benchmark``: a name (``metaopt list benchmarks``), or your own tasks: a TaskSource, a dict of
    split -> TaskSource, or ``"package.module:function"`` returning one (see metaopt.tasks.custom)."""

    algorithm: str
    benchmark: str | TaskSource | dict[str, TaskSource]
    ways: int | None = None
    shots: int | None = None
    queries: int | None = None
    learner: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(dataclasses.replace(self, benchmark=source_name(self.benchmark)))

    @classmethod
    def from_dict(cls, data: Any, source: str = "run config") -> RunConfig:
        """A config read back from JSON (``config.json``, a study's trial). Its shape and the types of its top
        level are checked here, naming ``source``, the key and the value, so an edited or damaged file is one
        line, not a TypeError; nested learner and training values are checked where they are built."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object of run settings, got {json_kind(data)}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(map(str, set(data) - known))
        if unknown:
            raise ConfigError(f"{source}: unknown run config keys: {', '.join(unknown)}")
        for key in ("algorithm", "benchmark"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ConfigError(f"{source}: {key} must be a name, got {data.get(key, 'nothing')!r}")
        for key in ("ways", "shots", "queries"):
            value = data.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{source}: {key} must be a positive integer or null, got {value!r}")
        for key in ("learner", "train"):
            if not isinstance(data.get(key, {}), dict):
                raise ConfigError(f"{source}: {key} must be a JSON object, got {data[key]!r}")
        if not isinstance(data.get("data_root"), (str, type(None))):
            raise ConfigError(f"{source}: data_root must be a folder or null, got {data['data_root']!r}")
        return cls(**data)


def json_kind(value: Any) -> str:
    """``a list``, ``a string``, ...: what a JSON value is, for a message."""
    names = {list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


@dataclass
class Run:
    config: RunConfig
    learner: MetaLearner
    sources: dict[Split, TaskSource]
    train_config: TrainConfig

    def trainer(self, out_dir: str | Path | None = None, **kwargs: Any) -> MetaTrainer:
        """The run's trainer; keyword arguments go to ``MetaTrainer`` (``device=``, ``engine=``, ...)."""
        return MetaTrainer(self.learner, self.sources, self.train_config, out_dir=out_dir, **kwargs)


def build_run(config: RunConfig) -> Run:
    """Validate ``config`` and build its learner and task sources (seeded model initialisation)."""
    learner_cls = get_learner(config.algorithm)
    benchmark = get_benchmark(config.benchmark, data_root=config.data_root)
    if benchmark.kind not in learner_cls.kinds:
        raise ConfigError(
            f"algorithm {config.algorithm!r} cannot handle {benchmark.kind} benchmark {config.benchmark!r}"
        )
    learner_config = build_config(config.algorithm, config.learner)
    try:
        train_config = TrainConfig(**check_field_types(TrainConfig, config.train, "training option"))
    except TypeError as exc:
        raise ConfigError(f"bad training option: {exc}") from None
    train_config.validate()
    check_inner_loop_options(learner_cls, inner_checkpoint=train_config.inner_checkpoint, compile=train_config.compile)
    ways = config.ways if config.ways is not None else benchmark.default_ways
    shots = config.shots if config.shots is not None else benchmark.default_shots
    queries = config.queries if config.queries is not None else benchmark.default_queries
    if benchmark.kind == "regression" and config.ways is not None:
        raise ConfigError(f"benchmark {config.benchmark!r} is regression; --ways does not apply")
    if benchmark.kind == "rl" and config.queries is not None:
        raise ConfigError(f"benchmark {config.benchmark!r} is reinforcement learning; --queries does not apply")
    sources = benchmark.sources(ways=ways, shots=shots, queries=queries)
    # Validation keeps its fixed tasks in memory; a meta-batch is in memory at once.
    check_shape_fits(max(train_config.meta_batch, train_config.val_tasks), benchmark.kind, ways, shots, queries,
                     () if benchmark.kind == "rl" else benchmark.input_shape())
    out_features = ways if benchmark.kind == "classification" else 1
    torch.manual_seed(train_config.seed)
    if benchmark.kind == "rl":
        from metaopt.models.recurrent import RecurrentPolicy

        src = sources["train"]
        policy = getattr(learner_cls, "rl_policy", None)  # feed-forward policies (maml-rl) build their own
        if policy is not None:
            model = policy(src, learner_config)
        elif getattr(src, "continuous", False):
            raise ConfigError(f"{config.algorithm} needs discrete actions; {config.benchmark!r} has continuous ones")
        else:
            model = RecurrentPolicy(src.input_size, src.n_actions, **learner_cls.model_options(learner_config))
        learner = learner_cls(model, learner_config, benchmark.kind)
    else:
        learner = new_learner(config.algorithm, learner_config, benchmark.kind, benchmark.input_shape(), out_features)
    resolved = dataclasses.replace(config, ways=ways if benchmark.kind in ("classification", "rl") else None,
                                   shots=shots, queries=None if benchmark.kind == "rl" else queries,
                                   learner=learner_config.to_dict(),
                                   train=dataclasses.asdict(train_config))
    return Run(resolved, learner, sources, train_config)


def new_learner(
    algorithm: str, learner_config: LearnerConfig, kind: TaskKind, input_shape: tuple[int, ...], out_features: int
) -> MetaLearner:
    """A freshly initialised learner on the default model for inputs of ``input_shape`` (seed torch first)."""
    learner_cls = get_learner(algorithm)
    model = default_model(tuple(input_shape), out_features, **learner_cls.model_options(learner_config))
    return learner_cls(model, learner_config, kind)


def normalized(config: RunConfig) -> dict[str, Any]:
    """``config`` with every learner and training default filled in, so a run saved by an older
    metaopt (before an option existed) compares equal to the same run described today."""
    data = config.to_dict()
    try:
        data["learner"] = build_config(config.algorithm, config.learner).to_dict()
        data["train"] = dataclasses.asdict(TrainConfig(**config.train))
    except (ConfigError, TypeError):
        pass  # an invalid saved config simply compares unequal
    if isinstance(data.get("train"), dict):
        # How the run is computed, not what: either engine resumes it, with or without inner checkpointing
        # or compilation.
        for key in ("engine", "inner_checkpoint", "compile"):
            data["train"].pop(key, None)
    return data


def save_run_config(directory: str | Path, config: RunConfig) -> None:
    write_json(Path(directory) / CONFIG_FILE, config.to_dict())


def load_run(directory: str | Path, *, best: bool = True, benchmark: Any = None) -> Run:
    """Rebuild the run saved in ``directory`` and load its (best-validation) weights. ``benchmark``: the
    TaskSource (or dict of them) a run made from a source object was trained on."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"checkpoint directory {directory} does not exist")
    config = RunConfig.from_dict(read_json(directory / CONFIG_FILE), source=str(directory / CONFIG_FILE))
    if benchmark is not None:
        config.benchmark = benchmark
    try:
        run = build_run(config)
    except ConfigError as exc:  # a nested value of an edited file: say which file
        raise ConfigError(f"{directory / CONFIG_FILE}: {exc}") from None
    state = load_checkpoint(directory)
    try:
        weights = state["best_state"] if best and state.get("best_state") else state["learner"]
        run.learner.load_state_dict(weights)
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"checkpoint in {directory} does not match its config: {first}") from None
    return run
