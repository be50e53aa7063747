"""Print the issue #5 comparison table from benchmarks/hyper_vs_optuna.py's results.json.

    python docs/scripts/hyper_table.py docs/hyper/results.json
"""

from __future__ import annotations

import json
import sys

from metaopt.stats import mean_ci95


def _row(name: str, entries: list[dict], tpe_best: float) -> str:
    values = [e["val_loss"] for e in entries]
    mean = sum(values) / len(values)
    steps = entries[0]["steps"]
    test = sum(e["scores"]["test_loss"] for e in entries) / len(entries)
    acc = sum(e["scores"]["test_accuracy"] for e in entries) / len(entries)
    shown = "— | —" if test != test else f"{test:.4f} | {100 * acc:.1f}"  # NaN: the search has no model yet
    return (f"| {name} | {steps:,} | {mean:.4f} ({min(values):.4f}–{max(values):.4f}) | "
            f"{100 * (mean / tpe_best - 1):+.1f}% | {shown} |")


def _at(search: dict, budget: int) -> dict:
    """The search's best validation loss after ``budget`` steps (its best trial so far)."""
    point = [p for p in search["curve"] if p["steps"] <= budget][-1]
    return {"steps": point["steps"], "val_loss": point["val_loss"], "scores": {"test_loss": float("nan"),
                                                                                "test_accuracy": float("nan")}}


def main(path: str) -> None:
    results = json.loads(open(path).read())
    seeds = list(results["seeds"].values())
    full = results["trials"] * results["train_steps"]
    tpe_best = sum(s["tpe"]["val_loss"] for s in seeds) / len(seeds)
    print("| method | training steps | val. loss, mean (min–max) over seeds | vs TPE best | test loss | test acc. % |")
    print("|---|---|---|---|---|---|")
    for name in ("tpe", "random"):
        print(_row(f"{name} ({results['trials']} trials)", [s[name] for s in seeds], tpe_best))
        print(_row(f"{name}, best after {full // 5:,} steps", [_at(s[name], full // 5) for s in seeds], tpe_best))
    for method in ("unrolled", "ift", "hd-sgd", "hd-adam"):
        print(_row(method, [s[method] for s in seeds], tpe_best))
        for variant, label in (("retrain", "+ retrain"), ("multistart", "× 4 starts"), ("multistart8", "× 8 starts")):
            if variant in seeds[0][method]:
                print(_row(f"{method} {label}", [s[method][variant] for s in seeds], tpe_best))
    print()
    _paired(results)


def _paired(results: dict) -> None:
    """Each method's validation loss minus TPE's best on the same seed (same batches, same initialisation):
    mean difference with its t-based 95% interval over seeds, and the seeds on which the method is lower."""
    seeds = list(results["seeds"].values())
    print(f"Paired by seed against TPE ({results['trials']} trials), {len(seeds)} seeds "
          "(negative: lower validation loss than TPE):")
    print()
    print("| method | training steps | mean difference ± 95% CI | relative | lower than TPE on |")
    print("|---|---|---|---|---|")
    rows = [("random", lambda s: s["random"])]
    for method in ("unrolled", "ift", "hd-sgd", "hd-adam"):
        rows.append((method, lambda s, m=method: s[m]))
        for variant, label in (("retrain", "+ retrain"), ("multistart", "× 4 starts"), ("multistart8", "× 8 starts")):
            if variant in seeds[0][method]:
                rows.append((f"{method} {label}", lambda s, m=method, v=variant: s[m][v]))
    for name, pick in rows:
        diffs = [pick(s)["val_loss"] - s["tpe"]["val_loss"] for s in seeds]
        rel = [pick(s)["val_loss"] / s["tpe"]["val_loss"] - 1 for s in seeds]
        mean, ci = mean_ci95(diffs)
        rmean, rci = mean_ci95(rel)
        wins = sum(d < 0 for d in diffs)
        print(f"| {name} | {pick(seeds[0])['steps']:,} | {mean:+.4f} ± {ci:.4f} "
              f"| {100 * rmean:+.1f}% ± {100 * rci:.1f}% | {wins} of {len(seeds)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/hyper/results.json")
