"""Issue #12's glyph tables from the runs `issue12_cpu.sh` keeps in docs/glyphs.

    python docs/scripts/issue12_table.py [GLYPHS_DIR]     # default docs/glyphs

1. 20-way 1-shot at 600 x 8 on the batched engine, with each run's training time, and the old engine's training
   time for the same run estimated twice: from the 50-iteration timing pair (docs/glyphs/timing/) of that
   learner, and from its meta-step ratio measured interleaved on a quiet machine
   (docs/engine/learner_step_speed_cpu.jsonl, `benchmarks/learner_step_speed.py`). The pairs ran beside other
   jobs, so the second estimate is the one that isolates the engines.
2. 5-way 1-shot at 600 x 8 with training seeds 0, 1 and 2: each seed's mean and 95% interval over the 600 test
   tasks, and beside them the spread across seeds.
3. The glyph table's two columns these runs replace, as its cells read: 5-way 1-shot as the mean of the three
   seeds (their sd, range and the range of their task intervals) and 20-way 1-shot at 600 x 8.
A run not finished yet prints "not run yet".
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

ALGOS = ["maml", "fomaml", "anil", "metasgd", "mamlpp", "metacurvature", "reptile", "taml"]
SEEDS = (0, 1, 2)
STEP_SPEED = Path(__file__).resolve().parents[1] / "engine" / "learner_step_speed_cpu.jsonl"


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def accuracy(run: dict[str, Any]) -> str:
    return f"{100 * run['mean']:.2f} ± {100 * run['ci95']:.2f}"


def per_iteration(run: dict[str, Any] | None) -> float | None:
    """Seconds of meta-training per iteration (validation excluded) of a kept run."""
    if run is None:
        return None
    return run["train"]["train_seconds"] / run["train"]["iterations"]


def step_ratios(path: Path = STEP_SPEED) -> dict[str, float]:
    """Per learner, `higher` seconds over batched seconds per meta-step, from learner_step_speed.py's JSON lines."""
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["algorithm"]: row["higher"] / row["batched"] for row in rows}


def minutes(run: dict[str, Any], factor: float = 1.0) -> str:
    """The run's training time; with `factor`, the same run estimated on an engine that factor slower."""
    return f"{run['train']['train_seconds'] * factor / 60:.0f} min"


def seed_runs(root: Path, algo: str) -> list[dict[str, Any] | None]:
    return [load(root / f"{algo}-5w1s-s{s}.json") for s in SEEDS]


def twenty_way(root: Path, steps: dict[str, float] | None = None) -> list[str]:
    steps = step_ratios() if steps is None else steps
    lines = ["| algorithm | 20-way 1-shot, 600 × 8, batched | best val. it. | training (batched) "
             "| s / iteration, batched / higher (50 its) | batched faster by | training on higher (estimated) "
             "| quiet meta-step ratio | training on higher (estimated from it) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for algo in ALGOS:
        run = load(root / f"{algo}-20w1s-600x8.json")
        batched = per_iteration(load(root / "timing" / f"{algo}-20w1s-i50-batched.json"))
        higher = per_iteration(load(root / "timing" / f"{algo}-20w1s-i50-higher.json"))
        cells = [accuracy(run), str(run["train"]["best_iteration"]), minutes(run)] \
            if run else ["not run yet", "-", "-"]
        if batched and higher:
            cells += [f"{batched:.2f} / {higher:.2f}", f"{higher / batched:.2f}x"]
            cells.append(minutes(run, higher / batched) if run else "-")
        else:
            cells += ["not run yet", "-", "-"]
        if algo in steps:
            cells.append(f"{steps[algo]:.2f}x")
            cells.append(minutes(run, steps[algo]) if run else "-")
        else:
            cells += ["not measured", "-"]
        lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    return lines


def seeds(root: Path) -> list[str]:
    head = " | ".join(f"seed {s}" for s in SEEDS)
    lines = [f"| algorithm | {head} | across seeds: mean ± sd | range |", "|---|" + "---|" * (len(SEEDS) + 2)]
    for algo in ALGOS:
        runs = seed_runs(root, algo)
        cells = [accuracy(r) if r else "not run yet" for r in runs]
        means = [100 * r["mean"] for r in runs if r]
        if len(means) == len(SEEDS):
            cells += [f"{statistics.mean(means):.2f} ± {statistics.stdev(means):.2f}",
                      f"{min(means):.2f}–{max(means):.2f}"]
        else:
            cells += [f"{len(means)} of {len(SEEDS)} seeds", "-"]
        lines.append(f"| {algo} | " + " | ".join(cells) + " |")
    return lines


def glyph_columns(root: Path) -> list[str]:
    lines = ["| algorithm | 5-way 1-shot, mean of 3 seeds | 20-way 1-shot |", "|---|---|---|"]
    for algo in ALGOS:
        runs = seed_runs(root, algo)
        if all(runs):
            means = [100 * r["mean"] for r in runs]
            ci = [100 * r["ci95"] for r in runs]
            five = (f"{statistics.mean(means):.2f} (seed sd {statistics.stdev(means):.2f}, "
                    f"{min(means):.2f}–{max(means):.2f}; task CI ±{min(ci):.2f}–{max(ci):.2f})")
        else:
            five = "not run yet"
        run = load(root / f"{algo}-20w1s-600x8.json")
        twenty = (f"{accuracy(run)} (600 × 8; best val. it. {run['train']['best_iteration']}, "
                  f"{minutes(run)} training)") if run else "not run yet"
        lines.append(f"| {algo} | {five} | {twenty} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "docs/glyphs")
    if not root.is_dir():  # a mistyped folder would otherwise print a table of "not run yet"
        print(f"issue12_table.py: no such folder '{root}'", file=sys.stderr)
        return 2
    print("\n".join(twenty_way(root)))
    print()
    print("\n".join(seeds(root)))
    print()
    print("\n".join(glyph_columns(root)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
