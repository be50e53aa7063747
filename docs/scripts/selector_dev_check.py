"""kNN against the learned or meta selector (and variants of its hyperparameters) at one k on a family's
*non-test* classes: the development check behind the learned selector's defaults, kept apart from the
protocol's test tasks so that choosing defaults never looks at them.

    python docs/scripts/selector_dev_check.py --family wordnet --split val --tasks 8 \\
        --variant '{}' --variant '{"rank": 4, "encoder_lr": 0.01}' --out docs/prompt_dev/wordnet_val.json
    python docs/scripts/selector_dev_check.py --report docs/prompt_dev/wordnet_val.json   # re-print the table

Per task: kNN's accuracy, each variant's accuracy, what its guard chose (steps, prototype weight) and the
share of chosen demonstrations that have the query's label. Tasks are those of ``--split`` at seed 0
(``--ways``, ``--pool`` per class, up to 10 queries per class); selector ``t`` is fitted with seed ``1000 + t``. With
``--selector meta`` each variant is meta-trained once on the family's ``train`` classes (seed 0), so use
``--split val`` for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def table(result: dict) -> str:
    """Markdown: kNN and each variant's mean accuracy, its difference from kNN paired by task (t-based 95%
    interval), on how many tasks it is at least kNN, and its share of demonstrations with the query's label."""
    from prompting.stats import format_interval, mean_t95, paired_t95

    rows = result["tasks"]
    result = {"selector": "learned", **result}  # checks written before --selector existed were of learned
    knn = [r["knn"]["accuracy"] for r in rows]
    lines = [f"{result['family']}, {result['split']} classes, `{result['selector']}`: {len(rows)} tasks x "
             f"{result['queries_per_class']} queries per class, k = {result['k']}", "",
             "| selector | params | accuracy (%) | vs kNN, paired (points) | tasks >= kNN | same-label demos (%) |",
             "|---|---|---|---|---|---|"]
    for key in [k for k in rows[0] if k != "task"]:
        acc = [r[key]["accuracy"] for r in rows]
        same = 100 * sum(r[key]["same_label"] for r in rows) / len(rows)
        if key == "knn":
            lines.append(f"| knn | - | {format_interval(*mean_t95(acc))} | - | - | {same:.0f} |")
            continue
        wins = sum(a >= b for a, b in zip(acc, knn))
        lines.append(f"| {result['selector']} | `{key}` | {format_interval(*mean_t95(acc))} | "
                     f"{format_interval(*paired_t95(acc, knn))} | {wins}/{len(rows)} | {same:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="wordnet")
    ap.add_argument("--split", default="val", choices=["train", "val"])
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--ways", type=int, default=4)
    ap.add_argument("--pool", type=int, default=8, help="candidates per class (default 8)")
    ap.add_argument("--selector", default="learned", choices=["learned", "meta"])
    ap.add_argument("--variant", action="append", default=[], help="selector params as JSON ('{}': defaults)")
    ap.add_argument("--out", help="the JSON to write")
    ap.add_argument("--report", metavar="JSON", help="print the table of a finished check and exit")
    args = ap.parse_args(argv)
    if args.report:
        print(table(json.loads(Path(args.report).read_text())))
        return 0
    if not args.out:
        ap.error("--out is required (or --report JSON)")
    if args.selector == "meta" and args.split == "train":
        ap.error("--selector meta is meta-trained on the train classes: check it on --split val")
    from metaopt.errors import ConfigError
    from prompting.selectors import make_selector

    try:  # a bad variant fails here, before the LM loads
        variants = [json.loads(v) for v in args.variant] or [{}]
        for text, v in zip(args.variant, variants):
            if not isinstance(v, dict):
                raise TypeError(f"{text} is not a JSON object of selector params")
            make_selector(args.selector, **v)
    except (json.JSONDecodeError, ConfigError, TypeError) as exc:
        ap.error(f"--variant: {exc}")

    from prompting.encoder import SentenceEncoder
    from prompting.lm import FrozenLM
    from prompting.prompt import build_prompt, continuations
    from prompting.tasks import get_family

    torch.set_num_threads(2)
    lm, encoder, family = FrozenLM.load(None), SentenceEncoder(), get_family(args.family)
    for queries in range(10, 0, -1):
        try:
            sizes = {"ways": args.ways, "pool_per_class": args.pool, "queries_per_class": queries}
            tasks = family.tasks(args.split, args.tasks, 0, **sizes)
            break
        except ConfigError:
            continue
    else:
        raise SystemExit(f"{args.family}: no {args.ways}-way {args.split} task with a pool of {args.pool} per class")
    selectors = {}
    for v in variants:
        selector = make_selector(args.selector, **v)
        if args.selector == "meta":
            selector = selector.meta_train(family, lm=lm, encoder=encoder, seed=0, **sizes)
        selectors[json.dumps(v)] = selector
    rows = []
    for t, task in enumerate(tasks):
        labels = dict(zip(task.classes, task.verbalisers))
        gold = np.array([task.label_index(q) for q in task.queries])
        row: dict = {"task": t}
        for key, selector in [("knn", make_selector("knn")), *selectors.items()]:
            sel = selector.fit(task.pool, lm=lm, labels=labels, encoder=encoder, seed=1000 + t)
            demos = [sel.select(q.text, args.k) for q in task.queries]
            prompts = [build_prompt(labels, d, q.text) for d, q in zip(demos, task.queries)]
            pred = lm.label_logprobs(prompts, continuations(labels)).argmax(-1).numpy()
            entry = {"accuracy": float((pred == gold).mean()),
                     "same_label": float(np.mean([[d.label == q.label for d in ds]
                                                  for ds, q in zip(demos, task.queries)]))}
            if key != "knn":
                entry.update(steps=sel.report.steps, prototype_weight=float(sel.scorer.proto.detach()))
            row[key] = entry
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {key: float(np.mean([r[key]["accuracy"] for r in rows])) for key in rows[0] if key != "task"}
    out = {"family": args.family, "split": args.split, "selector": args.selector, "k": args.k,
           "queries_per_class": queries, "tasks": rows, "mean_accuracy": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(summary))
    print(table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
