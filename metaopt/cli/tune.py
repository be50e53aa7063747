"""``metaopt tune``: the Optuna study over algorithms and their hyperparameters (see metaopt.tuning)."""

from __future__ import annotations

import argparse

from metaopt.cli._args import (
    CHECKPOINT_HELP,
    DEVICE_HELP,
    ENGINE_HELP,
    check_storage_answers,
    check_tracking,
    positive_float,
    positive_int,
    seed_int,
)
from metaopt.typing import ENGINE_CHOICES

__all__ = ["add_commands", "cmd_tune"]

SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2")  # metaopt.tuning.SAMPLERS, without importing optuna
PRUNERS = ("median", "hyperband", "sha", "wilcoxon", "none")

EPILOG = """examples:
  metaopt tune --benchmark glyphs --ways 5 --shots 1 --algorithms maml,anil,metasgd,reptile --trials 30 \\
               --iterations 300 --pruner wilcoxon
  metaopt tune --benchmark sinusoid --shots 10 --algorithms maml --trials 20 --sampler random --pruner none
  metaopt tune --benchmark sinusoid --algorithms maml --trials 3 --iterations 20 --val-every 5 --val-tasks 10 \
               --test-tasks 50                                   # a small study: minutes, not hours
  metaopt tune --benchmark glyphs --algorithms mypkg.spaces:space --trials 50 --workers 2
  metaopt tune --benchmark sinusoid --trials 30 --objectives mse,time --sampler nsga2   # Pareto front
  metaopt tune --benchmark glyphs --trials 100 --storage postgresql://me@db/optuna --study g51

Running the same command again resumes the study (--trials is the study's total). Storage: an
SQLAlchemy URL (default sqlite:///optuna.db here), or Optuna's journal file with journal:PATH or a
path ending in .log. A worker that dies leaves its trial failed and retried (heartbeats on SQL
storages; on this machine also found by its process id). Each trial is an MLflow child run of the
study's run (experiment = study name; default tracking sqlite:///mlflow.db, or --tracking-uri).
The best trial is evaluated on --test-tasks fixed meta-test tasks (default 600; mean ± 95% CI) and registered in the
MLflow model registry under the study name. Environment: METAOPT_TUNE_HEARTBEAT=SECONDS sets the
heartbeat interval (default 10; a silent trial is failed after 3 intervals).

Exit codes: 0 done; 2 bad input; 3 a worker process died (one line names it, its trial and that
trial's retry; finished trials are kept: run the same command again to resume); 4 the study's database
went away mid-study (finished trials are kept: run the same command again when it is back); 130 interrupted."""


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="search algorithms and hyperparameters with Optuna (tracked in MLflow, resumable)",
        description="Tune meta-learners on a benchmark: an Optuna study whose trials meta-train sampled "
        "configurations, report validation so pruners stop hopeless ones early, and log to MLflow.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("what to tune")
    g.add_argument("--benchmark", required=True, help="benchmark name (see `metaopt list benchmarks`)")
    g.add_argument("--ways", type=positive_int, help="N: classes per episode (classification)")
    g.add_argument("--shots", type=positive_int, help="K: support examples per class (or points, regression)")
    g.add_argument("--algorithms", type=_names, metavar="A,B,...|MODULE:FUNCTION",
                   help="algorithms of the joint space (default: all that fit the benchmark), or your own "
                   "space function as module:function")
    g = p.add_argument_group("budget")
    g.add_argument("--trials", type=positive_int,
                   help="total trials of the study, counting earlier runs and other workers' (a trial whose "
                   "worker died is not counted: its retry is)")
    g.add_argument("--timeout", type=positive_float, help="seconds after which no new trial starts")
    g.add_argument("--iterations", type=positive_int, default=500,
                   help="meta-iterations per trial, the most a pruner can cut short (default 500)")
    g.add_argument("--val-every", type=positive_int,
                   help="validate (and report to the pruner) every N iterations (default: a tenth of --iterations)")
    g.add_argument("--val-tasks", type=positive_int, default=100, help="fixed validation tasks (default 100)")
    g.add_argument("--test-tasks", type=positive_int, default=600,
                   help="fixed meta-test tasks for the best trial (default 600)")
    g = p.add_argument_group("search")
    g.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="Optuna sampler (default tpe)")
    g.add_argument("--pruner", choices=PRUNERS, help="pruner (default median; none with several objectives); "
                   "wilcoxon pairs per-task validation scores with the best trial's")
    g.add_argument("--objectives", type=_names, default=[], metavar="SCORE[,time]",
                   help="accuracy (classification) or mse (regression), optionally ,time (seconds per "
                   "meta-iteration) for a Pareto front")
    g.add_argument("--seed", type=seed_int, default=0, help="seed of the sampler and of every trial's training")
    g.add_argument("--reproducible", action="store_true",
                   help="run the study in synchronous seeded batches: the same command gives the same trials, "
                   "parameters and best trial with any --workers, hosts, kills and resumes (needs --trials)")
    g.add_argument("--batch-size", type=positive_int, default=4,
                   help="trials per batch with --reproducible (default 4; a study keeps its batch size)")
    g = p.add_argument_group("where")
    g.add_argument("--storage", help="SQLAlchemy URL or journal:PATH (default sqlite:///optuna.db)")
    g.add_argument("--study", help="study name (default tune-BENCH-NwKs); also the MLflow experiment")
    g.add_argument("--workers", type=positive_int, default=1, help="worker processes on the study (default 1)")
    g.add_argument("--device", help=DEVICE_HELP)
    g.add_argument("--engine", choices=ENGINE_CHOICES, default="auto", help=ENGINE_HELP)
    g.add_argument("--inner-checkpoint", action="store_true",
                   help=CHECKPOINT_HELP + "; applied to every trial whose learner can (second-order inner loops)")
    g.add_argument("--tracking-uri", help="MLflow tracking URI (default sqlite:///mlflow.db or $MLFLOW_TRACKING_URI)")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")
    p.set_defaults(handler=cmd_tune)


def cmd_tune(args: argparse.Namespace) -> int:
    import os
    import sys

    from metaopt.cli._args import print_json
    from metaopt.errors import ConfigError

    if args.trials is None and args.timeout is None:
        raise ConfigError("give a budget: --trials N or --timeout SECONDS")
    from metaopt.tuning._storage import resolve_storage

    check_tracking(args.tracking_uri, storage=resolve_storage(args.storage))
    check_storage_answers(args.storage)
    heartbeat = os.environ.get("METAOPT_TUNE_HEARTBEAT", "10")
    if not heartbeat.isdigit() or int(heartbeat) < 1:
        raise ConfigError(f"METAOPT_TUNE_HEARTBEAT must be a positive integer, got {heartbeat!r}")
    import optuna

    from metaopt.stats import format_ci
    from metaopt.tuning import TuneConfig, tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = args.algorithms[0] if args.algorithms and ":" in args.algorithms[0] else None
    if space and len(args.algorithms) > 1:
        raise ConfigError(f"give either algorithm names or one module:function, got {','.join(args.algorithms)}")
    cfg = TuneConfig(
        benchmark=args.benchmark, ways=args.ways, shots=args.shots, algorithms=[] if space else
        (args.algorithms or []), space=space, trials=args.trials, timeout=args.timeout, iterations=args.iterations,
        sampler=args.sampler, pruner=args.pruner, storage=args.storage, study=args.study, workers=args.workers,
        objectives=args.objectives, seed=args.seed, tracking_uri=args.tracking_uri,
        heartbeat_interval=int(heartbeat), progress=not args.no_progress, device=args.device,
        engine=args.engine, inner_checkpoint=args.inner_checkpoint,
        val_every=args.val_every, val_tasks=args.val_tasks, test_tasks=args.test_tasks,
        reproducible=args.reproducible, batch_size=args.batch_size,
    )
    from metaopt.tuning import EXIT_WORKER_DIED, WorkerDied
    from metaopt.tuning._storage import (
        EXIT_STORAGE_LOST,
        describe_storage_error,
        quiet_lost_storage_in_threads,
        storage_lost,
    )
    from metaopt.tuning._workers import interrupt_once

    try:
        # a second Ctrl-C must not cut short the release of the running trials
        with interrupt_once(), quiet_lost_storage_in_threads():
            summary = tune(cfg)
    except WorkerDied as exc:  # one line: which worker, its trial, the retry; finished trials are kept
        sys.stderr.write(f"metaopt: {exc}\n")
        return EXIT_WORKER_DIED
    except Exception as exc:
        if not storage_lost(exc):
            raise
        sys.stderr.write(f"metaopt: lost the study storage mid-study ({describe_storage_error(exc)}); finished "
                         "trials are kept there: when it is back, run the same command again to resume\n")
        return EXIT_STORAGE_LOST
    from metaopt.tuning import describe_counts

    print(describe_counts(summary))
    if summary["best_trial"] is not None:
        scale, unit = (100.0, "%") if summary["metric"] == "accuracy" else (1.0, "")
        print(f"best: trial {summary['best_trial']} ({summary['algorithm']}) {summary['params']}")
        test = format_ci(summary["test_mean"], summary["test_ci95"], scale=scale, unit=unit)
        print(f"test {summary['metric']}: {test} ({summary['test_tasks']} tasks)")
    for point in summary.get("pareto_front", []):
        print(f"pareto: trial {point['number']} ({point['algorithm']}) values {point['values']}")
    if args.json:
        print_json(summary)
    return 0
