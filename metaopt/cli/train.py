"""``metaopt train``: meta-train a learner, keep the best validation checkpoint, report the meta-test result."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from metaopt.cli._args import (
    CHECKPOINT_HELP,
    COMPILE_HELP,
    DEVICE_HELP,
    ENGINE_HELP,
    SCORES_HELP,
    check_out_file,
    check_tracking,
    elapsed,
    fail,
    key_value,
    positive_float,
    positive_int,
    print_json,
    scores_summary,
    seed_int,
    write_scores,
)
from metaopt.errors import ConfigError
from metaopt.typing import ENGINE_CHOICES

if TYPE_CHECKING:
    import torch

    from metaopt.distributed import Launch
    from metaopt.runs import RunConfig

__all__ = ["add_commands", "cmd_train", "default_out", "check_out_dir", "make_out_dir", "RUN_FILES"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="meta-train a learner, then evaluate it on the fixed meta-test tasks",
        description="Meta-train ALGORITHM on BENCHMARK, validate on fixed validation tasks, keep the best "
        "checkpoint and report mean ± 95% CI on fixed meta-test tasks. Re-running resumes.",
    )
    g = p.add_argument_group("what to train")
    g.add_argument("--algorithm", default="maml", help="registered algorithm (see `metaopt list algorithms`)")
    g.add_argument("--benchmark", default="sinusoid", help="benchmark name (see `metaopt list benchmarks`)")
    g.add_argument("--data-root", help="data folder (Omniglot layout, or where generated data is cached); for "
                   "glyphs also a built glyphs-v1-*.npz copied from another machine's cache (no fonts needed)")
    g.add_argument("--ways", type=positive_int, help="N: classes per episode (classification); arms or grid side (RL)")
    g.add_argument("--shots", type=positive_int,
                   help="K: support examples per class (or points, regression; trial steps, RL)")
    g.add_argument("--queries", type=positive_int, help="query examples per class (or points, regression)")
    g = p.add_argument_group("inner loop (algorithm hyperparameters)")
    g.add_argument("--inner-lr", type=positive_float, help="inner-loop learning rate")
    g.add_argument("--inner-steps", type=positive_int, help="inner steps during meta-training")
    g.add_argument("--eval-inner-steps", type=positive_int, help="inner steps at evaluation (default: same)")
    g.add_argument("--inner-optimizer", choices=["sgd", "momentum", "adam"], help="differentiable inner optimiser")
    g.add_argument("--first-order", action="store_true", default=None, help="drop second-order terms")
    g.add_argument("--param", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="any other hyperparameter of the algorithm, e.g. --param weight=0.5 (repeatable)")
    g = p.add_argument_group("outer loop")
    g.add_argument("--iterations", type=positive_int, help="meta-training iterations (default 1000)")
    g.add_argument("--meta-batch", type=positive_int, help="tasks per outer update (default 16)")
    g.add_argument("--outer-lr", type=positive_float, help="outer learning rate (default: the algorithm's)")
    g.add_argument("--grad-clip", type=positive_float, help="clip the outer gradient's global norm to this value")
    g.add_argument("--val-every", type=positive_int, help="validate every N iterations (default 100)")
    g.add_argument("--val-tasks", type=positive_int, help="fixed validation tasks (default 100)")
    g.add_argument("--patience", type=positive_int, help="stop after this many validations without improvement")
    g.add_argument("--seed", type=seed_int, default=0, help="seed for initialisation and task sampling (default 0)")
    g.add_argument("--device", help=DEVICE_HELP)
    g.add_argument("--engine", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    g.add_argument("--inner-checkpoint", action="store_true", default=None, help=CHECKPOINT_HELP)
    g.add_argument("--compile", action="store_true", default=None, help=COMPILE_HELP)
    g = p.add_argument_group("output")
    g.add_argument("--test-tasks", type=positive_int, default=600, help="fixed meta-test tasks (default 600)")
    g.add_argument("--scores", metavar="FILE", help=SCORES_HELP + "; the same file as `metaopt evaluate --scores`")
    g.add_argument("--out", help="run directory (default runs/ALGO-BENCH-NwKs-seedS); re-running resumes")
    g.add_argument("--overwrite", action="store_true", help="discard an existing run in --out")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    g = p.add_argument_group("tracking (MLflow)")
    g.add_argument("--track", action="store_true",
                   help="log params, metrics by iteration, a learning curve and test results to an MLflow run "
                   "(re-running resumes the same run)")
    g.add_argument("--tracking-uri", metavar="URI", help="MLflow store or server, e.g. http://127.0.0.1:5000 "
                   "(default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db); implies --track")
    g.add_argument("--experiment", help="MLflow experiment (default metaopt-train); implies --track")
    g.add_argument("--register-model", metavar="NAME",
                   help="also log the best model as a pyfunc model registered as NAME; implies --track")
    p.set_defaults(handler=cmd_train)


def _run_config(args: argparse.Namespace):
    from metaopt.runs import RunConfig

    learner = dict(args.param)
    for flag, key in (("inner_lr", "inner_lr"), ("inner_steps", "inner_steps"), ("first_order", "first_order"),
                      ("eval_inner_steps", "eval_inner_steps"), ("inner_optimizer", "inner_optimizer")):
        if getattr(args, flag) is not None:
            learner[key] = getattr(args, flag)
    train = {"seed": args.seed}
    for key in ("iterations", "meta_batch", "outer_lr", "grad_clip", "val_every", "val_tasks", "patience", "engine",
                "inner_checkpoint", "compile"):
        if getattr(args, key) is not None:
            train[key] = getattr(args, key)
    return RunConfig(args.algorithm, args.benchmark, args.ways, args.shots, args.queries, learner, train,
                     args.data_root)


def cmd_train(args: argparse.Namespace) -> int:
    """Train in this process; under a launcher (torchrun) as one rank of a process group, where every rank runs
    this same function and only rank 0 writes the run folder, the scores file and MLflow, and prints."""
    from metaopt import distributed

    launch = distributed.launch_env()
    device = _rank_device(args.device, launch)
    if launch is not None and launch.world_size > 1:
        from metaopt.algorithms import get_learner
        from metaopt.algorithms.base import split_refusal

        why = split_refusal(get_learner(args.algorithm))  # before joining the group or building any data
        if why:
            raise ConfigError(f"--algorithm {args.algorithm}: {why}; it cannot train under torchrun "
                              f"({launch.world_size} processes): run it in one process")
    distributed.init(launch, device if device is not None else _cpu())
    try:
        return _train(args, device)
    finally:
        distributed.shutdown()


def _cpu() -> torch.device:
    import torch

    return torch.device("cpu")


def _rank_device(spec: str | None, launch: Launch | None) -> torch.device | None:
    """The device of this process: ``--device`` as given, except that under a launcher ``cuda`` (or ``auto``
    finding CUDA) means this host's GPU number LOCAL_RANK, one GPU per process."""
    if spec is None:
        return None
    from metaopt.device import resolve_device

    device = resolve_device(spec)
    if launch is None or device.type != "cuda":
        return device
    if device.index is not None and launch.world_size > 1:
        raise ConfigError(f"--device {spec}: under torchrun each process uses the GPU of its LOCAL_RANK; "
                          "pass --device cuda")
    if launch.local_rank is None:
        raise ConfigError("--device cuda under a launcher needs LOCAL_RANK (which GPU of this host is this "
                          "process's); torchrun sets it")
    return resolve_device(f"cuda:{launch.local_rank}")


def _train(args: argparse.Namespace, device: torch.device | None) -> int:
    from metaopt import distributed
    from metaopt.checkpoint import write_json
    from metaopt.runs import build_run
    from metaopt.trainer import TrainingDiverged

    start = time.perf_counter()
    lead = distributed.rank() == 0  # the one process that writes, tracks and prints
    track = bool(args.track or args.tracking_uri or args.experiment or args.register_model)
    given = Path(args.out) if args.out else None

    def agreed(step) -> None:
        """Run ``step`` (rank 0's checks, or every rank's build), then fail on every rank with the first rank's
        error, so no rank waits in a collective for one that has failed."""
        try:
            step()
            error = None
        except ConfigError as exc:
            error = str(exc)
        error = distributed.first_error(error)
        if error is not None:
            raise ConfigError(error)

    def check_given() -> None:
        if track:
            check_tracking(args.tracking_uri)
        if given is not None:  # before build_run, which may build a dataset for minutes
            _check_outputs(args, given, track)

    agreed(check_given if lead else lambda: None)
    built: list = []
    agreed(lambda: built.append(build_run(_run_config(args))))
    run = built[0]
    cfg = run.config
    out = given or default_out(cfg.algorithm, cfg.benchmark, cfg.ways, cfg.shots, run.train_config.seed)
    agreed(lambda: _prepare_out(args, out, given is None, track, cfg) if lead else None)
    from metaopt.tracking._train import train_tracking

    with train_tracking(cfg, out, enabled=track and lead, tracking_uri=args.tracking_uri,
                        experiment=args.experiment, register=args.register_model) as tracking:
        trainer = run.trainer(out, progress=not args.no_progress, callbacks=tracking.callbacks, device=device)
        if trainer.engine_note and lead:
            print(f"note: {trainer.engine_note}", file=sys.stderr)
        resumed = (out / "checkpoint.pt").exists()
        try:
            state = trainer.fit().state
        except TrainingDiverged as exc:
            fail(f"training diverged: {exc}", code=1)
        trainer.use_best()
        result = trainer.evaluate("test", args.test_tasks)
        summary = {
            "algorithm": cfg.algorithm, "benchmark": cfg.benchmark, "ways": cfg.ways, "shots": cfg.shots,
            "queries": cfg.queries, "metric": result.metric, "mean": result.mean, "ci95": result.ci95,
            "test_tasks": result.n_tasks, "diverged_tasks": result.diverged,
            "iterations": state.iteration, "best_iteration": state.best_iteration,
            "best_val": state.best, "stopped_early": state.stopped_early, "resumed": resumed,
            "train_seconds": round(state.train_seconds, 2), "seconds": elapsed(start), "out": str(out),
            "engine": trainer.engine, "inner_checkpoint": trainer.inner_checkpoint, "compile": trainer.compile,
            # How many processes trained (the last start's count): how the run was computed, not what, so a run
            # resumes on any number of them.
            "processes": trainer.world_size,
        }
        if not lead:
            return 0
        tracking.finish(result, summary, out)
    write_json(out / "results.json", summary)
    if args.scores:
        write_scores(args.scores, out, scores_summary(cfg, result, None, "test"), result.per_task)
    print(f"{cfg.algorithm} on {cfg.benchmark}: {result}  (best validation at iteration {state.best_iteration}; "
          f"run in {out})")
    if args.json:
        print_json(summary)
    return 0


def _prepare_out(args: argparse.Namespace, out: Path, check: bool, track: bool, cfg: RunConfig) -> None:
    """Check (when ``--out`` was not given: its default is known only now) and create the run folder; refuse one
    that holds a different run unless ``--overwrite``, which empties it first."""
    from metaopt.checkpoint import CONFIG_FILE, read_json
    from metaopt.runs import save_run_config

    if check:
        _check_outputs(args, out, track)
    if (out / CONFIG_FILE).exists():
        if args.overwrite:
            shutil.rmtree(out)
        else:
            from metaopt.runs import RunConfig, normalized

            try:
                saved = normalized(RunConfig.from_dict(read_json(out / CONFIG_FILE), source=str(out / CONFIG_FILE)))
            except ConfigError as exc:
                raise ConfigError(f"--out {out}: its run is damaged ({exc}); pass --overwrite or choose another "
                                  "--out") from None
            differing = [k for k, v in normalized(cfg).items() if saved.get(k) != v]
            if differing:
                raise ConfigError(f"--out {out} holds a different run ({', '.join(differing)} differ); "
                                  "pass --overwrite or choose another --out")
    make_out_dir(out)
    save_run_config(out, cfg)


# What a run directory holds, and all that --overwrite may remove: its own files and their temporary
# siblings (NAME.PID.THREAD.tmp). Anything else in it is the user's and keeps the folder from being deleted.
RUN_FILES = frozenset({"config.json", "checkpoint.pt", "results.json", "mlflow_run.json"})


def check_out_dir(out: Path, *, overwrite: bool = False) -> None:
    """Refuse, in one line and before anything is written, a run directory that is a file, cannot be created
    or written to, lies under a missing top-level folder (a mistyped root: no folders are made there), or is
    a folder of other files than a run's (training would write into it; --overwrite would delete it)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a run directory")
    if not out.exists():
        ancestor = next(p for p in out.absolute().parents if p.exists())
        if ancestor == ancestor.parent:  # the file system's root: the first folder of the path is mistyped
            top = out.absolute().parts[:2]
            raise ConfigError(f"--out {out}: folder {Path(*top)} does not exist; create it first")
        if not ancestor.is_dir():
            raise ConfigError(f"--out {out}: {ancestor} is a file, not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise ConfigError(f"--out {out}: cannot create it in {ancestor} (not writable)")
        return
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: not writable")
    entries = list(out.iterdir())
    if entries and not (out / "config.json").is_file():
        raise ConfigError(f"--out {out} is a folder of other files, not a run (no config.json); "
                          "choose a new or empty folder")
    if overwrite:
        foreign = sorted(p.name for p in entries if p.name not in RUN_FILES
                         and not (p.is_file() and p.name.endswith(".tmp")))
        if foreign:
            raise ConfigError(f"--out {out} holds files a run does not write ({', '.join(foreign[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}); --overwrite will not delete it")


def make_out_dir(out: Path) -> None:
    """Create the run directory checked by :func:`check_out_dir` (with parents below an existing folder)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None


def _check_outputs(args: argparse.Namespace, out: Path, track: bool) -> None:
    """``--out`` and ``--scores``: neither may replace what is not theirs (the scores may not be the run's own
    files, nor the tracking store's)."""
    from metaopt.tracking._runs import resolve_tracking_uri

    check_out_dir(out, overwrite=args.overwrite)
    if args.scores:
        stores = [("--out", str(out / name)) for name in sorted(RUN_FILES)]
        if track:
            stores.append(("--tracking-uri", resolve_tracking_uri(args.tracking_uri)))
        check_out_file(args.scores, "--scores", kind="scores", stores=stores, made_folder=out)


def default_out(algorithm: str, benchmark: str, ways: int | None, shots: int, seed: int) -> Path:
    shape = f"{ways}w{shots}s" if ways else f"k{shots}"
    return Path("runs") / f"{algorithm}-{benchmark.replace(':', '_').replace('/', '_')}-{shape}-seed{seed}"
