"""The prompt protocol on two (or more) frozen LMs side by side (issue #13: do the selectors' gains shrink as
the LM grows?).

Reads the per-task JSON that ``prompt_protocol.py`` wrote for each LM (one ``--out`` directory per LM) and,
per family, keeps the tasks that every LM has finished (the same tasks and queries: the protocol draws them
from the seed alone). For each method at the protocol's k it prints each LM's accuracy and its difference
against that LM's own kNN, paired by task with a t-based 95% interval (with two LMs also how that
difference changes from the first LM to the second, paired by task), and draws the differences as one
figure (a panel per family).

    python docs/scripts/protocol_by_lm.py docs/prompt_protocol docs/prompt_protocol_gemma3 \\
        --out docs/prompt_protocol/by_lm.md      # also writes by_lm.png beside it
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from prompt_protocol import FAMILIES, SELECTORS  # noqa: E402  (the protocol's own lists, comma-separated)

METHODS = tuple(SELECTORS.split(","))


def load(outs: list[Path], family: str) -> list[dict[str, Any]] | None:
    """Each LM's state for ``family``, or None when an LM has not started it."""
    paths = [out / f"{family}.json" for out in outs]
    if not all(p.exists() for p in paths):
        return None
    return [json.loads(p.read_text()) for p in paths]


def common_tasks(states: list[dict[str, Any]], k: int) -> list[str]:
    """Task ids every LM has scored kNN on at ``k`` (so every row below is paired over the same tasks)."""
    ids = [t for t in states[0]["tasks"] if all(f"knn@{k}" in s["tasks"].get(t, {}) for s in states)]
    return sorted(ids, key=int)


def rows(states: list[dict[str, Any]], k: int, ids: list[str]) -> list[tuple[str, list[tuple[float, ...] | None]]]:
    """Per method: for each LM (accuracy mean, t95, difference vs kNN mean, t95), or None where it lacks it;
    with two LMs a third entry, (change of the difference vs kNN from the first LM to the second, t95), paired
    by task (the tasks and queries are the same), or None."""
    from prompting.stats import mean_t95, paired_t95

    out = []
    for method in (m for name in METHODS for m in (name, f"{name}+cc")):
        key = f"{method}@{0 if method.startswith('zero') else k}"
        cells: list[tuple[float, ...] | None] = []
        gains: list[list[float] | None] = []
        for state in states:
            tasks = state["tasks"]
            if not all(key in tasks[t] for t in ids):
                cells.append(None)
                gains.append(None)
                continue
            acc = mean_t95([tasks[t][key] for t in ids])
            gain = [tasks[t][key] - tasks[t][f"knn@{k}"] for t in ids]
            diff = (float("nan"), float("nan")) if method == "knn" else mean_t95(gain)
            cells.append((*acc, *diff))
            gains.append(gain)
        if len(states) == 2:
            both = method != "knn" and gains[0] is not None and gains[1] is not None
            cells.append(paired_t95(gains[1], gains[0]) if both else None)  # type: ignore[arg-type]
        if any(c is not None for c in cells):
            out.append((method, cells))
    return out


def markdown(outs: list[Path], families: list[str]) -> tuple[str, dict[str, Any]]:
    """The tables, and what the figure needs: {family: (LM names, k, n, rows)}."""
    from prompting.stats import format_interval

    lines, drawn = [], {}
    for family in families:
        states = load(outs, family)
        if states is None:
            continue
        k = states[0]["config"]["k"]
        ids = common_tasks(states, k)
        if len(ids) < 2:
            continue
        names = [f"{s['config']['model']} ({s['config']['dtype']})" for s in states]
        table = rows(states, k, ids)
        change = [f"vs kNN: {states[1]['config']['model']} minus {states[0]['config']['model']} (points)"] \
            if len(states) == 2 else []
        lines += [f"### {family} at k = {k}: the {len(ids)} tasks every LM has finished", "",
                  "| method | " + " | ".join([f"{n}: accuracy (%) | {n}: vs kNN (points)" for n in names] + change)
                  + " |", "|---|" + "---|---|" * len(names) + "---|" * len(change)]
        for method, cells in table:
            shown = []
            for cell in cells[: len(names)]:
                if cell is None:
                    shown += ["-", "-"]
                else:
                    shown += [format_interval(cell[0], cell[1]),
                              "-" if method == "knn" else format_interval(cell[2], cell[3])]
            if change:
                shown.append("-" if cells[2] is None else format_interval(*cells[2]))
            lines.append(f"| {method} | " + " | ".join(shown) + " |")
        lines.append("")
        drawn[family] = (names, k, len(ids), table)
    return "\n".join(lines), drawn


def figure(drawn: dict[str, Any], png: Path) -> Path:
    """One panel per family: each method's paired difference against kNN, one marker per LM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(drawn), figsize=(5.5 * len(drawn), 5), squeeze=False)
    for ax, (family, (names, k, n, table)) in zip(axes[0], drawn.items()):
        methods = [(m, cells) for m, cells in table if m != "knn"]
        for j, name in enumerate(names):
            shift = 0.3 * (j - (len(names) - 1) / 2) / max(1, len(names) - 1)
            points = [(i + shift, 100 * cells[j][2], 100 * cells[j][3]) for i, (_, cells) in enumerate(methods)
                      if cells[j] is not None]
            ax.errorbar([p[1] for p in points], [p[0] for p in points],
                        xerr=[0 if p[2] != p[2] else p[2] for p in points], fmt="o", capsize=3, label=name)
        ax.set_yticks(range(len(methods)), [m for m, _ in methods], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="grey", lw=1)
        ax.axvline(-1, color="tab:red", ls=":", lw=1)
        ax.axvline(2, color="tab:green", ls=":", lw=1)
        ax.set_xlabel(f"vs kNN at k = {k}, paired by task (points)")
        ax.set_title(f"{family}: {n} tasks")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outs", nargs="+", type=Path, help="one prompt_protocol.py --out directory per LM")
    ap.add_argument("--families", default=FAMILIES)
    ap.add_argument("--out", type=Path, help="write the tables here, and the figure beside it as .png")
    args = ap.parse_args(argv)
    if len(args.outs) < 2:
        ap.error("give at least two --out directories, one per LM")
    missing = [str(o) for o in args.outs if not o.is_dir()]
    if missing:
        ap.error(f"no such protocol directory: {missing[0]}")
    text, drawn = markdown(args.outs, [f for f in args.families.split(",") if f])
    if not drawn:
        print("no family has at least 2 tasks finished on every LM yet")
        return 0
    print(text)
    if args.out is not None:
        args.out.write_text(text)
        print(f"figure: {figure(drawn, args.out.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
