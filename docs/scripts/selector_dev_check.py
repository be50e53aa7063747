"""kNN against the learned selector (and variants of its hyperparameters) at one k on a family's
*non-test* classes: the development check behind the learned selector's defaults, kept apart from the
protocol's test tasks so that choosing defaults never looks at them.

    python docs/scripts/selector_dev_check.py --family wordnet --split val --tasks 8 \\
        --variant '{}' --variant '{"rank": 4, "encoder_lr": 0.01}' --out docs/prompt_dev/wordnet_val.json

Per task: kNN's accuracy, each variant's accuracy, what its guard chose (steps, prototype weight) and the
share of chosen demonstrations that have the query's label. Tasks are those of ``--split`` at seed 0 (4-way,
pool 8 per class, up to 10 queries per class); selector ``t`` is fitted with seed ``1000 + t``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="wordnet")
    ap.add_argument("--split", default="val", choices=["train", "val"])
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--variant", action="append", default=[], help="learned selector params as JSON ('{}': defaults)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    from metaopt.errors import ConfigError
    from prompting.encoder import SentenceEncoder
    from prompting.lm import FrozenLM
    from prompting.prompt import build_prompt, continuations
    from prompting.selectors import make_selector
    from prompting.tasks import get_family

    torch.set_num_threads(2)
    lm, encoder, family = FrozenLM.load(None), SentenceEncoder(), get_family(args.family)
    for queries in range(10, 0, -1):
        try:
            tasks = family.tasks(args.split, args.tasks, 0, ways=4, pool_per_class=8, queries_per_class=queries)
            break
        except ConfigError:
            continue
    else:
        raise SystemExit(f"{args.family}: no 4-way {args.split} task with a pool of 8 per class")
    variants = [json.loads(v) for v in args.variant] or [{}]
    rows = []
    for t, task in enumerate(tasks):
        labels = dict(zip(task.classes, task.verbalisers))
        gold = np.array([task.label_index(q) for q in task.queries])
        row: dict = {"task": t}
        for key, name, params in [("knn", "knn", {})] + [(json.dumps(v), "learned", v) for v in variants]:
            sel = make_selector(name, **params).fit(task.pool, lm=lm, labels=labels, encoder=encoder, seed=1000 + t)
            demos = [sel.select(q.text, args.k) for q in task.queries]
            prompts = [build_prompt(labels, d, q.text) for d, q in zip(demos, task.queries)]
            pred = lm.label_logprobs(prompts, continuations(labels)).argmax(-1).numpy()
            entry = {"accuracy": float((pred == gold).mean()),
                     "same_label": float(np.mean([[d.label == q.label for d in ds]
                                                  for ds, q in zip(demos, task.queries)]))}
            if name == "learned":
                entry.update(steps=sel.report.steps, prototype_weight=float(sel.scorer.proto.detach()))
            row[key] = entry
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {key: float(np.mean([r[key]["accuracy"] for r in rows])) for key in rows[0] if key != "task"}
    out = {"family": args.family, "split": args.split, "k": args.k, "queries_per_class": queries, "tasks": rows,
           "mean_accuracy": summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
