"""Print the markdown tables of docs/results/ (suite.md, model-based.md) from the run folders the scripts wrote.

    python docs/scripts/collect.py [RUNS_DIR]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ALGOS = ["maml", "fomaml", "anil", "metasgd", "mamlpp", "metacurvature", "reptile", "taml"]
# matching_cosine_scale: Matching Networks with --param cosine_scale=10 (glyphs_metric.sh matching:cosine_scale=10)
METRIC_ALGOS = ["protonet", "matching", "matching_cosine_scale", "relation", "siamese"]
# Published Omniglot accuracy (Conv4), 5w1s / 5w5s / 20w1s: the yardsticks; Siamese from
# Vinyals et al. 2016, Table 1 (convolutional Siamese net, no fine-tuning).
PUBLISHED = {"protonet": "98.8 / 99.7 / 96.0", "matching": "98.1 / 98.9 / 93.8",
             "relation": "99.6 / 99.8 / 97.6", "siamese": "96.7 / 98.4 / 88.0"}
PUBLISHED["matching_cosine_scale"] = PUBLISHED["matching"]
# Issue #3's model-based learners: SNAIL from Mishra et al. 2018, Table 1; Ravi & Larochelle report
# miniImageNet only.
MODEL_ALGOS = ["snail", "metalstm", "metanet"]
MODEL_PUBLISHED = {"snail": "99.07 / 99.78 / 97.64", "metalstm": "none (miniImageNet only)",
                   "metanet": "98.95 / none / 97.00"}


def _fmt(d: dict | None, scale: float = 1.0, digits: int = 3) -> str:
    if d is None:
        return "not run yet"
    if not math.isfinite(d["mean"]):
        return f"diverged ({d.get('diverged_tasks', '?')}/{d.get('tasks', d.get('test_tasks'))} tasks)"
    return f"{d['mean'] * scale:.{digits}f} ± {d['ci95'] * scale:.{digits}f}"


def _load(path: Path) -> dict | None:
    if not path.is_file() or not path.read_text().strip():
        return None
    return json.loads(path.read_text())  # results.json is indented; eval-*.json is one line


def sinusoid(root: Path) -> None:
    print("| algorithm | K=5, 1 step | K=5, 10 steps | K=10, 1 step | K=10, 10 steps "
          "| best val. iteration (K=5 / K=10) |")
    print("|---|---|---|---|---|---|")
    for algo in ALGOS:
        cells, best = [], []
        for k in (5, 10):
            run = root / "sinusoid" / f"{algo}-k{k}"
            for steps in (1, 10):
                cells.append(_fmt(_load(run / f"eval-steps{steps}.json")))
            state = _load(run / "results.json")
            best.append(str(state["best_iteration"]) if state else "-")
        print(f"| {algo} | " + " | ".join(cells) + f" | {' / '.join(best)} |")


def glyphs(root: Path, algos: list[str] = ALGOS, published: dict[str, str] | None = None) -> None:
    extra = " published Omniglot (5w1s / 5w5s / 20w1s) |" if published else ""
    print("| algorithm | 5-way 1-shot | 5-way 5-shot | 20-way 1-shot |" + extra)
    print("|---|---|---|---|" + ("---|" if published else ""))
    for algo in algos:
        cells = []
        for shape in ("5w1s", "5w5s", "20w1s"):
            d = _load(root / "glyphs" / f"{algo}-{shape}.json")
            cell = _fmt(d, 100.0, 2)
            if d is not None:
                if "train_seconds" in d:
                    took = f"{d['train_seconds'] / 60:.0f} min training"
                else:
                    took = "resumed" if d.get("resumed") else f"{d['seconds'] / 60:.0f} min"
                cell += f" (best val. it. {d['best_iteration']}, {took})"
            cells.append(cell)
        print(f"| {algo} | " + " | ".join(cells) + " |" + (f" {published[algo]} |" if published else ""))


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
    sinusoid(root)
    print()
    glyphs(root)
    print()
    glyphs(root, METRIC_ALGOS, PUBLISHED)
    print()
    glyphs(root, MODEL_ALGOS, MODEL_PUBLISHED)
