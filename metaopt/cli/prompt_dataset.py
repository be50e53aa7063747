"""``metaopt prompt compare`` on a labelled dataset with a fixed label set: ``--dataset sst2|agnews|trec|rte|hf:NAME``
or ``--train FILE --test FILE`` (``metaopt.cli.prompt`` parses; this runs it)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_dataset_args", "cmd_compare_dataset", "load_target", "prompt_format_for", "DATASET_HELP"]

DATASET_HELP = """fixed-label datasets (every label in every prompt, demonstrations from the train split, queries from
the test split; 2 or more labels):
  --dataset sst2|agnews|trec|rte  the standard ICL sets as Zhao et al. 2021 ship them, read from --data-root
                                  (default $METAOPT_DATA/icl or ~/.cache/metaopt/icl), each in that paper's
                                  template and label words; --dataset hf:NAME[:CONFIG] for a Hugging Face set
  --train FILE --test FILE        your own JSON Lines / CSV / TSV files (--text-field, --label-field,
                                  --verbalizer, --template)
Each seed draws --pool train examples (default all) and --queries test examples (default 300); accuracy is
the mean over --seeds draws (default 5) ± a t-interval over seeds, and every selector's difference against
kNN is paired by query. `meta` is meta-trained on the other datasets in --data-root (--meta-datasets) and
used unchanged on this one. Cost on a CPU (SmolLM2-135M, one thread): see README.md, "Prompt selection on
your own dataset"."""


def add_dataset_args(c: Any) -> None:
    from metaopt.cli._args import csv_of

    g = c.add_argument_group("fixed-label datasets (instead of --family)")
    g.add_argument("--dataset", help="sst2, agnews, trec, rte (from --data-root) or hf:NAME[:CONFIG]")
    g.add_argument("--data-root", help="folder holding sst2/, agnews/, trec/, rte/ (default $METAOPT_DATA/icl, "
                   "else ~/.cache/metaopt/icl)")
    g.add_argument("--train", help="your train split (the pool): .jsonl, .csv or .tsv")
    g.add_argument("--test", help="your test split (the queries): .jsonl, .csv or .tsv")
    g.add_argument("--text-field", default="text", help="text column (default text); a,b joins several, e.g. "
                   "premise,hypothesis, filled into the template's fields in that order")
    g.add_argument("--label-field", default="label", help="label column (default label)")
    g.add_argument("--verbalizer", help="label=word,... : the words the LM reads for labels (default: the label "
                   "names, _ as spaces)")
    g.add_argument("--template", help="prompt template of one example, ending with {label}, e.g. "
                   "'Review: {text}\\nSentiment: {label}' (default: the dataset's own)")
    g.add_argument("--chat", action="store_true", help="wrap each prompt in the tokenizer's chat template (instruct "
                   "models); the rows are named NAME/chat")
    g.add_argument("--meta-datasets", type=csv_of(str), help="datasets the meta selector is meta-trained on "
                   "(default: every other standard set found in --data-root)")


def load_target(args: argparse.Namespace) -> Any:
    """The dataset ``args`` name, checked before any model loads."""
    from metaopt.errors import ConfigError
    from prompting.datasets import dataset_from_files, get_dataset, parse_verbalizer
    from prompting.prompt import PromptFormat

    if args.dataset and (args.train or args.test):
        raise ConfigError("give --dataset or --train/--test, not both")
    if args.dataset:
        dataset = get_dataset(args.dataset, args.data_root)
        if args.template or args.verbalizer:
            import dataclasses

            words = parse_verbalizer(args.verbalizer) if args.verbalizer else {}
            unknown = sorted(set(words) - set(dataset.classes))
            if unknown:
                raise ConfigError(f"--verbalizer: label {unknown[0]!r} is not a label of {dataset.name} "
                                  f"({', '.join(dataset.classes)})")
            fmt = dataset.prompt_format
            if args.template:
                fmt = PromptFormat(args.template, fmt.instruction, fmt.separator)
            dataset = dataclasses.replace(dataset, prompt_format=fmt, verbalisers=tuple(
                words.get(c, v) for c, v in zip(dataset.classes, dataset.verbalisers)))
        return dataset
    if not (args.train and args.test):
        raise ConfigError("--train and --test go together (the pool and the queries)")
    return dataset_from_files(args.train, args.test, text_field=args.text_field, label_field=args.label_field,
                              verbalizer=parse_verbalizer(args.verbalizer) if args.verbalizer else None,
                              template=args.template)


def meta_names(args: argparse.Namespace, target: str) -> tuple[str, ...]:
    from prompting.datasets import available_standard

    if args.meta_datasets:
        return tuple(args.meta_datasets)
    return tuple(n for n in available_standard(args.data_root) if n != target)


def prompt_format_for(lm: Any, fmt: Any, chat: bool) -> Any:
    from prompting.prompt import ChatFormat

    return ChatFormat(fmt, lm.tokenizer) if chat else fmt


def cmd_compare_dataset(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    import torch

    from metaopt.checkpoint import write_atomically
    from metaopt.cli._args import check_out_file, check_tracking, elapsed, print_json
    from metaopt.cli._prompt_args import check_param_types
    from metaopt.errors import ConfigError
    from prompting.dataset_compare import DATASET_SELECTORS, DatasetCompareConfig, compare_dataset
    from prompting.datasets import get_dataset

    family_only = [f for f, v in (("--tasks", args.tasks), ("--ways", args.ways), ("--split", args.split)) if v]
    if family_only or args.no_protonet:
        raise ConfigError(f"{(family_only or ['--no-protonet'])[0]} is for --family task families, not datasets")
    if not args.no_track:
        check_tracking(args.tracking_uri)
    started = time.perf_counter()
    torch.set_num_threads(1)
    dataset = load_target(args)
    name = args.dataset or dataset.name
    selectors = tuple(args.selectors) if args.selectors else DATASET_SELECTORS + (("meta",) if args.dataset else ())
    metas = meta_names(args, name) if "meta" in selectors else ()
    cfg = DatasetCompareConfig(name, selectors, tuple(args.shots) if args.shots else (4,),
                               tuple(range(args.seed, args.seed + (args.seeds or 5))), args.pool,
                               args.queries or 300, dict(args.param), args.calibration, args.chat, args.template,
                               metas, args.verbalizer,
                               f"{args.text_field} -> {args.label_field}" if args.train else None)
    check_param_types(cfg.selectors, cfg.selector_params)
    cfg.validate()
    meta_sets = [get_dataset(n, args.data_root) for n in metas]
    if args.out:
        check_out_file(args.out)
    from metaopt.cli._prompt_args import load_models, saved_result
    from prompting.dataset_compare import check_dataset_resumable

    resume = saved_result(args, cfg, check_dataset_resumable) if args.resume else None
    lm, encoder = load_models(args, resume)
    fmt = prompt_format_for(lm, dataset.prompt_format, args.chat)

    def save(partial: Any) -> None:
        if args.out:
            data = json.dumps({**partial.to_dict(), "model": lm.name, "dtype": args.dtype})
            write_atomically(Path(args.out), data.encode(), "--out")

    def feedback_file(seed: int) -> str:
        return f"{args.out}.meta-seed{seed}.feedback.json"

    result = compare_dataset(cfg, dataset=dataset, lm=lm, encoder=encoder, meta_datasets=meta_sets,
                             prompt_format=fmt, wrap=(lambda f: prompt_format_for(lm, f, True)) if args.chat else None,
                             progress=not args.no_progress, on_seed=save, resume=resume,
                             feedback_file=feedback_file if args.out else None)
    if args.chat:
        for row in result.rows:
            row["method"] += "/chat"
    save(result)
    for seed in cfg.seeds if args.out else ():
        Path(feedback_file(seed)).unlink(missing_ok=True)
    out = {**result.to_dict(), "model": lm.name, "dtype": args.dtype}
    if not args.no_track:
        out["mlflow_run_id"] = _log(args, cfg, result, lm.name)
    out["total_seconds"] = elapsed(started)
    if args.json:
        for key in ("per_task", "per_query", "gold", "query_ids"):
            out.pop(key)
        print_json(out)
    else:
        print(result.table())
        print(f"{name}: {len(cfg.seeds)} seeds x {result.rows[0]['n_queries'] // len(cfg.seeds)} queries, "
              f"{out['total_seconds']:.0f} s in all, {result.lm_prompts + sum(result.selection_prompts.values())} "
              f"LM prompts, model {lm.name} ({args.dtype})")
    return 0


def _log(args: argparse.Namespace, cfg: Any, result: Any, model: str) -> str:
    import mlflow

    from metaopt.tracking import mlflow_run

    with mlflow_run(experiment=args.experiment, run_name=f"prompt-{cfg.dataset}", tracking_uri=args.tracking_uri,
                    tags={"metaopt.command": "prompt compare", "metaopt.mode": "dataset"}) as run:
        mlflow.log_params({"dataset": cfg.dataset, "selectors": ",".join(cfg.selectors),
                           "shots": ",".join(map(str, cfg.shots)), "seeds": ",".join(map(str, cfg.seeds)),
                           "pool": "all" if cfg.pool is None else cfg.pool, "queries": cfg.queries,
                           "calibration": cfg.calibration, "chat": cfg.chat, "model": model, "dtype": args.dtype,
                           **{f"selector.{k}": v for k, v in cfg.selector_params.items()}})
        for r in result.rows:
            mlflow.log_metric(f"acc.{r['method']}.k{r['k']}".replace("/", "."), r["mean"])
            if "vs_knn" in r:
                mlflow.log_metric(f"vs_knn.{r['method']}.k{r['k']}".replace("/", "."), r["vs_knn"])
        mlflow.log_dict(result.to_dict(), "compare.json")
        return run.info.run_id
