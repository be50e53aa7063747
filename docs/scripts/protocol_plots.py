"""Figures of the prompt protocol (issue #13), one PNG per family beside its JSON.

Left: accuracy against k (the tasks scored at every k), each selector with its t-based 95% interval over tasks.
Right: every method's difference against kNN at the protocol's k, paired by task, with the targets' lines
(-1 point: "no worse"; +2 points: "a gain").

    python docs/scripts/protocol_plots.py docs/prompt_protocol [FAMILY ...]   # default: every FAMILY.json there
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SELECTORS = ("random", "knn", "balanced_knn", "bm25", "bootstrap", "learned", "meta")


def _tasks(n: int) -> str:
    return f"{n} task" + ("" if n == 1 else "s")


def plot_family(path: Path, png: Path) -> Path:
    """Draws ``path`` (a family's protocol JSON) to ``png``; returns ``png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from prompting.stats import mean_t95, paired_t95

    state = json.loads(path.read_text())
    tasks, cfg = state["tasks"], state["config"]
    k_main = cfg["k"]
    ks = sorted({k_main, *cfg.get("extra_ks", [])})
    every_k = [t for t in tasks if all(f"knn@{k}" in tasks[t] for k in ks)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.2]})
    for i, name in enumerate(SELECTORS):
        points = [(k, *mean_t95([tasks[t][f"{name}@{k}"] for t in every_k])) for k in ks
                  if every_k and all(f"{name}@{k}" in tasks[t] for t in every_k)]
        dodge = 2 ** (0.04 * (i - len(SELECTORS) / 2))  # side by side, so the intervals can be told apart
        if points:
            left.errorbar([p[0] * dodge for p in points], [100 * p[1] for p in points],
                          [100 * (0 if p[2] != p[2] else p[2]) for p in points], marker="o", capsize=3, label=name)
    left.set_xscale("log", base=2)
    left.set_xticks(ks, [str(k) for k in ks])
    left.set_xlabel("k (examples in the prompt)")
    left.set_ylabel("accuracy (%)")
    left.set_ylim(0, 102)
    left.set_title(f"{_tasks(len(every_k))} scored at every k")
    if left.lines:
        left.legend(fontsize=7)

    methods = [m for name in SELECTORS if name != "knn" for m in (name, f"{name}+cc")] + ["knn+cc"]
    rows = []
    for method in methods:
        both = [t for t in tasks if f"{method}@{k_main}" in tasks[t] and f"knn@{k_main}" in tasks[t]]
        if len(both) >= 2:
            mean, half = paired_t95([tasks[t][f"{method}@{k_main}"] for t in both],
                                    [tasks[t][f"knn@{k_main}"] for t in both])
            rows.append((method, 100 * mean, 100 * half))
    y = range(len(rows))
    right.errorbar([r[1] for r in rows], list(y), xerr=[r[2] for r in rows], fmt="o", capsize=3)
    right.set_yticks(list(y), [r[0] for r in rows], fontsize=8)
    right.invert_yaxis()
    right.axvline(0, color="grey", lw=1)
    right.axvline(-1, color="tab:red", ls=":", lw=1)
    right.axvline(2, color="tab:green", ls=":", lw=1)
    right.set_xlabel(f"difference against kNN at k = {k_main}, paired by task (points)\n"
                     "dotted: -1 point (no worse) and +2 points (a gain)")
    right.set_title(_tasks(len(tasks)))
    fig.suptitle(f"{cfg['family']}: {cfg['ways']}-way, pool {cfg['pool']}/class, {cfg['model']} ({cfg['dtype']})")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def plot_all(out: Path, families: list[str] | None = None) -> list[Path]:
    """One PNG per family JSON in ``out`` (or per name in ``families`` that has one)."""
    names = families or sorted(p.stem for p in out.glob("*.json") if "tasks" in json.loads(p.read_text()))
    return [plot_family(out / f"{n}.json", out / f"{n}.png") for n in names if (out / f"{n}.json").exists()]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: protocol_plots.py OUT_DIR [FAMILY ...]")
    for png in plot_all(Path(sys.argv[1]), sys.argv[2:] or None):
        print(png)
