"""``metaopt prompt tune``: an Optuna study over a selector's own hyperparameters (see prompting.tune)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_tune", "cmd_tune"]


EPILOG = """examples:
  metaopt prompt tune --family wordnet --selector learned --trials 20
  metaopt prompt tune --family wordnet --selector learned --trials 8 --pool 4 --queries 2 --tasks 2 \\
      --param train_queries=4 --dtype bfloat16 --json
  metaopt prompt tune --family chatterbot --selector meta --trials 30 --sampler random --seed 3 --seeds 2
  metaopt prompt tune --family wordnet --trials 40 --param k=4 --pruner median   # tune at a fixed k
  metaopt prompt tune --family wordnet --trials 50 --storage postgresql://me@db/optuna --study wn-learned
  metaopt report --study prompt-wordnet-learned --out report.html                 # look at the study

The space is search_spaces/prompt_selector.py: k in {1,2,4,8}, temperature, encoder learning rate,
number of LM-scored candidates and encoder steps. --param KEY=VALUE fixes a searched key instead of
sampling it, or passes another selector hyperparameter (train_queries, num_negatives, meta_tasks) to
every trial. Each trial scores its point on --tasks tasks per seed of the family's VALIDATION classes
(the same tasks and queries for every trial); the running mean is reported after each task, so
--pruner median|sha|hyperband|wilcoxon can stop a trial early (default none: a few tasks per trial are
too few to prune on). The best point is then scored on --test-tasks tasks per seed of the held-out TEST
classes, beside the selector's defaults (k=4 plus your --param values) and kNN at the best point's k on
the same tasks: mean ± 95% CI, and both differences paired by task (--no-baseline skips the two).

Running the same command again resumes the study (--trials is the study's total); a study refuses
another family, selector, task sizes, seeds, --param values or model. --seed also seeds the sampler.
Storage: an SQLAlchemy URL (default sqlite:///optuna.db here) or journal:PATH. One process runs the
trials (the LM is loaded once). Each trial is an MLflow child run of the study's run (experiment =
study name; default tracking sqlite:///mlflow.db, or --tracking-uri)."""


def add_tune(psub: Any) -> None:
    """Add ``tune`` to the ``metaopt prompt`` subcommands."""
    from metaopt.cli._args import add_model_args, add_task_args, key_value, positive_float, positive_int
    from metaopt.cli.tune import PRUNERS, SAMPLERS

    p = psub.add_parser(
        "tune", help="tune a selector's hyperparameters with Optuna (tracked in MLflow, resumable)",
        description="Search the learned or meta-learned selector's hyperparameters (k, temperature, encoder "
        "learning rate, LM-scored candidates, steps) on validation classes, then score the best on test classes.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("what to tune")
    g.add_argument("--family", required=True, help="task family: wordnet, fortunes, chatterbot or hf:NAME")
    g.add_argument("--selector", default="learned", help="learned (default), meta or bootstrap")
    g.add_argument("--param", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="fix a searched key (k, temperature, encoder_lr, num_candidates, steps) or pass another "
                   "selector hyperparameter (train_queries, num_negatives, meta_tasks); repeatable")
    g = p.add_argument_group("budget and tasks")
    g.add_argument("--trials", type=positive_int, help="total trials of the study (counting earlier runs)")
    g.add_argument("--timeout", type=positive_float, help="seconds after which no new trial starts")
    g.add_argument("--tasks", "--val-tasks", type=positive_int, default=2,
                   help="validation tasks per seed per trial (default 2); no --val-every: every task is reported")
    g.add_argument("--test-tasks", type=positive_int, default=5, help="test tasks per seed for the best (default 5)")
    add_task_args(g)  # the first seed also seeds the sampler
    g.add_argument("--no-baseline", action="store_true", help="do not score the defaults and kNN on test")
    g = p.add_argument_group("search and storage")
    g.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="Optuna sampler (default tpe)")
    g.add_argument("--pruner", choices=PRUNERS, default="none", help="pruner over validation tasks (default none)")
    g.add_argument("--storage", help="SQLAlchemy URL or journal:PATH (default sqlite:///optuna.db)")
    g.add_argument("--study", help="study name (default prompt-FAMILY-SELECTOR); also the MLflow experiment")
    g.add_argument("--tracking-uri", help="MLflow tracking URI (default sqlite:///mlflow.db or $MLFLOW_TRACKING_URI)")
    g = p.add_argument_group("models and output")
    add_model_args(g)
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.add_argument("--json", action="store_true", help="print the summary as one JSON object on the last line")
    p.set_defaults(handler=cmd_tune)


def cmd_tune(args: argparse.Namespace) -> int:
    import torch

    from metaopt.cli._args import check_tracking, print_json
    from metaopt.stats import format_ci
    from metaopt.tuning import open_storage
    from prompting.encoder import SentenceEncoder
    from prompting.lm import FrozenLM
    from prompting.tasks import get_family
    from prompting.tune import PromptTuneConfig, tune_selector

    torch.set_num_threads(1)
    cfg = PromptTuneConfig(
        args.family, args.selector, args.trials, args.timeout, args.tasks, args.test_tasks,
        tuple(range(args.seed, args.seed + args.seeds)), args.ways, args.pool, args.queries, dict(args.param),
        args.sampler, args.pruner, args.storage, args.study, args.tracking_uri, baseline=not args.no_baseline,
        progress=not args.no_progress,
    )
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from metaopt.cli._prompt_args import check_param_types

    check_param_types((args.selector,), dict(args.param), unknown_ok=True)  # a wrong type, as the user typed it
    cfg.validate()
    check_tracking(args.tracking_uri)
    family = get_family(args.family)  # before the storage: an unknown family leaves no new database behind
    open_storage(cfg.storage)  # before the slow loads: bad storage or model fail fast
    lm = FrozenLM.load(args.model, dtype=args.dtype, device=args.device)
    cfg.model = f"{lm.name} ({args.dtype})"
    summary = tune_selector(cfg, family=family, lm=lm, encoder=SentenceEncoder(args.encoder, device=args.device))
    states = summary["states"]
    print(f"study {summary['study']}: {summary['trials']} trials ({states['complete']} complete, "
          f"{states['pruned']} pruned, {states['fail']} failed), {summary['val_tasks']} validation tasks each")
    if summary["best_trial"] is not None:
        pct = {"scale": 100.0, "unit": "%", "digits": 1}
        print(f"best: trial {summary['best_trial']} {summary['params']}: validation accuracy "
              f"{format_ci(summary['best_val'], summary['best_val_ci95'], **pct)}")
        print(f"test accuracy: {format_ci(summary['test_mean'], summary['test_ci95'], **pct)} "
              f"({summary['test_tasks']} tasks)")
        if "default_test_mean" in summary:
            print(f"defaults {summary['default_params']}: "
                  f"{format_ci(summary['default_test_mean'], summary['default_test_ci95'], **pct)} (same tasks); "
                  f"gain {format_ci(summary['gain_mean'], summary['gain_ci95'], scale=100.0, digits=1)} points, "
                  "paired by task")
        if "knn_test_mean" in summary:
            print(f"knn ({summary['knn_params']}): "
                  f"{format_ci(summary['knn_test_mean'], summary['knn_test_ci95'], **pct)} (same tasks); "
                  f"best vs knn {format_ci(summary['vs_knn_mean'], summary['vs_knn_ci95'], scale=100.0, digits=1)} "
                  "points, paired by task")
    if args.json:
        print_json(summary)
    return 0
