"""``metaopt prompt fit`` saves a fitted example selector as a folder (and an MLflow model); ``metaopt prompt
select`` loads it in a fresh process and prints the demonstrations it chooses for a query."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_deploy", "cmd_fit", "cmd_select", "DEPLOYABLE"]

# prompting.deploy.DEPLOYABLE, written out so `--help` imports no torch (a test keeps the two equal)
DEPLOYABLE = ("random", "knn", "balanced_knn", "bm25", "learned", "meta")

FIT_EPILOG = """examples:
  metaopt prompt fit --train reviews.jsonl --selector learned --out my-selector
  metaopt prompt fit --dataset sst2 --data-root ../shared/data/icl --selector knn --out sst2-knn
  metaopt prompt fit --train reviews.csv --selector learned --out my-selector --register-model review-demos
  metaopt prompt select --selector my-selector --query "a gripping, funny film" -k 4 --json
  mlflow models serve -m models:/review-demos/1 --env-manager local -p 5001   (after --register-model)

The folder holds selector.json (method, hyperparameters, labels and words, template), pool.jsonl (the
demonstrations) and tensors.safetensors (pool embeddings, the learned scorer): no pickle. `learned` is fitted
on the LM's feedback on queries drawn from the train file itself (about 150 LM prompts)."""


def add_deploy(psub: Any) -> None:
    from metaopt.cli._args import add_model_args, csv_of, key_value, positive_int, seed_int

    f = psub.add_parser("fit", help="fit an example selector on labelled data and save it (folder, MLflow model)",
                        description="Fit one example selector on a train split and save it where `prompt select`, "
                        "Python (prompting.deploy.load_selector) and `mlflow models serve` can use it.",
                        epilog=FIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--train", help="the demonstrations: a .jsonl, .csv or .tsv file")
    f.add_argument("--dataset", help="or a standard set: sst2, agnews, trec, rte (its train split), or hf:NAME")
    f.add_argument("--data-root", help="folder of the standard sets (default $METAOPT_DATA/icl)")
    f.add_argument("--text-field", default="text", help="text column (default text); a,b for several")
    f.add_argument("--label-field", default="label", help="label column (default label)")
    f.add_argument("--verbalizer", help="label=word,... : the words the LM reads for labels")
    f.add_argument("--template", help="prompt template of one example, ending with {label}")
    f.add_argument("--selector", default="learned", choices=DEPLOYABLE, help="the method (default learned)")
    f.add_argument("--pool", type=positive_int, help="train examples to keep as the pool (default all)")
    f.add_argument("--seed", type=seed_int, default=0, help="seed of the pool draw and the fit (default 0)")
    f.add_argument("--param", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="selector hyperparameter (as in prompt compare)")
    f.add_argument("--meta-datasets", type=csv_of(str), help="for --selector meta: the standard sets to "
                   "meta-train on (default: every other one in --data-root)")
    f.add_argument("--out", required=True, help="the folder to save into (new or empty)")
    f.add_argument("-k", type=positive_int, default=4, help="demonstrations per query the MLflow model returns "
                   "by default (default 4)")
    f.add_argument("--register-model", metavar="NAME", help="log it to MLflow as a pyfunc model registered as NAME")
    f.add_argument("--experiment", default="prompt-selectors", help="MLflow experiment (default prompt-selectors)")
    f.add_argument("--tracking-uri", help="MLflow tracking URI (default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    f.add_argument("--json", action="store_true", help="print a summary as one JSON object")
    add_model_args(f)
    f.set_defaults(handler=cmd_fit)

    s = psub.add_parser("select", help="print the demonstrations a saved selector chooses for a query",
                        description="Load a selector saved by `metaopt prompt fit` and choose k demonstrations "
                        "for each --query (the last one printed sits next to the query in the prompt).")
    s.add_argument("--selector", required=True, help="the folder `metaopt prompt fit --out` wrote")
    s.add_argument("--query", action="append", required=True, help="a text to find demonstrations for (repeatable)")
    s.add_argument("-k", type=positive_int, default=4, help="demonstrations per query (default 4)")
    s.add_argument("--prompt", action="store_true", help="also print the whole prompt in the dataset's template")
    s.add_argument("--json", action="store_true", help="print one JSON object per query")
    s.set_defaults(handler=cmd_select)


def _train_split(args: argparse.Namespace) -> Any:
    from metaopt.errors import ConfigError
    from prompting.datasets import dataset_from_files, parse_verbalizer

    if bool(args.train) == bool(args.dataset):
        raise ConfigError("give --train FILE or --dataset NAME (one of them)")
    if args.dataset:
        from types import SimpleNamespace

        from metaopt.cli.prompt_dataset import load_target

        return load_target(SimpleNamespace(dataset=args.dataset, data_root=args.data_root, train=None, test=None,
                                           template=args.template, verbalizer=args.verbalizer))
    # the train file is both splits here: fitting reads only the pool, and the checks of the labels still run
    return dataset_from_files(
        args.train, args.train, text_field=args.text_field, label_field=args.label_field,
        verbalizer=parse_verbalizer(args.verbalizer) if args.verbalizer else None, template=args.template)


def cmd_fit(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import torch

    from metaopt.cli._args import check_tracking, elapsed, print_json
    from metaopt.cli._prompt_args import check_param_types
    from metaopt.errors import ConfigError
    from prompting.deploy import fit_selector

    started = time.perf_counter()
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {args.out}: exists and is not an empty folder; give a new one")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {args.out}: the folder {out.parent} does not exist")
    if args.register_model:
        check_tracking(args.tracking_uri)
    from prompting.lm import check_device

    check_device(args.device)  # before the data and the models load
    params = dict(args.param)
    check_param_types((args.selector,), params)
    from prompting.selectors import make_selector

    try:
        make_selector(args.selector, **params)
    except TypeError as exc:
        raise ConfigError(f"--param: {exc}") from None
    dataset = _train_split(args)
    metas = []
    if args.selector == "meta":
        from metaopt.cli.prompt_dataset import meta_names
        from prompting.datasets import get_dataset

        names = meta_names(args, args.dataset or "")
        if not names:
            raise ConfigError("--selector meta needs datasets to meta-train on (--meta-datasets, --data-root)")
        metas = [get_dataset(n, args.data_root) for n in names]
    torch.set_num_threads(1)
    from prompting.encoder import SentenceEncoder
    from prompting.lm import FrozenLM

    lm = FrozenLM.load(args.model, dtype=args.dtype, device=args.device) if args.selector in ("learned", "meta") \
        else None
    encoder = SentenceEncoder(args.encoder, device=args.device) if args.selector not in ("random", "bm25") else None
    pool = dataset.task(args.seed, pool=args.pool, queries=1).pool
    meta = None
    if metas:
        from prompting.dataset_compare import DatasetMix

        meta = make_selector("meta", **params).meta_train(DatasetMix(metas), lm=lm, encoder=encoder,  # type: ignore
                                                          seed=args.seed)
    deployed = fit_selector(args.selector, pool, classes=dataset.classes, verbalisers=dataset.verbalisers,
                            prompt_format=dataset.prompt_format, lm=lm, encoder=encoder,
                            encoder_name=getattr(encoder, "name", None), seed=args.seed, meta=meta, **params)
    deployed.save(out)
    summary: dict[str, Any] = {"out": str(out), "selector": args.selector, "pool": len(pool),
                               "labels": dict(zip(dataset.classes, dataset.verbalisers))}
    if args.register_model:
        from metaopt.tracking import mlflow_run
        from prompting.deploy import log_selector_model

        with mlflow_run(experiment=args.experiment, run_name=f"fit-{args.selector}", tracking_uri=args.tracking_uri,
                        tags={"metaopt.command": "prompt fit"}) as run:
            import mlflow

            mlflow.log_params({"selector": args.selector, "pool": len(pool), "seed": args.seed,
                               "data": args.dataset or args.train, **{f"selector.{k}": v for k, v in params.items()}})
            summary["model_uri"] = log_selector_model(out, args.register_model, k=args.k)
            summary["mlflow_run_id"] = run.info.run_id
        summary["registered_model"] = args.register_model
    summary["total_seconds"] = elapsed(started)
    if args.json:
        print_json(summary)
    else:
        print(f"saved the {args.selector} selector ({len(pool)} demonstrations) to {out}"
              + (f"; registered as {args.register_model} ({summary['model_uri']})" if args.register_model else ""))
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from metaopt.errors import ConfigError
    from prompting.deploy import load_selector

    if not (Path(args.selector) / "selector.json").is_file():
        raise ConfigError(f"--selector {args.selector}: not a folder written by `metaopt prompt fit`")
    torch.set_num_threads(1)
    selector = load_selector(args.selector)
    for query in args.query:
        demos = selector.select(query, args.k)
        record: dict[str, Any] = {"query": query, "k": args.k, "demonstrations": [
            {"text": d.text, "label": d.label, "label_word": selector.labels[d.label]} for d in demos]}
        if args.prompt:
            record["prompt"] = selector.prompt_format.build(selector.labels, demos, query)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"query: {query}")
            for i, d in enumerate(record["demonstrations"], 1):
                print(f"  {i}. [{d['label_word']}] {d['text']}")
            if args.prompt:
                print(record["prompt"])
    return 0
