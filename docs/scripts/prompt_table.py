"""Print the issue #6 results tables (markdown) from the JSON files docs/scripts/prompt_compare.sh writes.

Usage: python docs/scripts/prompt_table.py runs/prompt6/wordnet.json runs/prompt6/chatterbot.json
"""

from __future__ import annotations

import json
import sys

ORDER = ["zero", "random", "knn", "bm25", "learned", "meta", "protonet", "prototypes"]


def table(path: str) -> str:
    data = json.load(open(path))
    rows = {(r["method"], r["k"]): r for r in data["rows"]}
    shots = data["config"]["shots"]
    pool = max(k for _, k in rows)
    cols = [*shots, pool]
    n = max(r["n_tasks"] for r in data["rows"])
    cfg = data["config"]
    out = [f"**{cfg['family']}**: {n} held-out tasks ({len(cfg['seeds'])} seeds x {cfg['tasks']}), "
           f"{cfg['ways']}-way, pool {cfg['pool_per_class']}/class, {cfg['queries_per_class']} queries/class; "
           f"{data['model']} ({data['dtype']}); {data['seconds']:.0f} s wall", "",
           "| method | " + " | ".join(f"k={k}" if k != pool else f"whole pool ({k})" for k in cols) + " |",
           "|---" * (len(cols) + 1) + "|"]
    for m in ORDER:
        cells = []
        for k in cols:
            r = rows.get((m, 0 if m == "zero" else k))
            cells.append(f"{100 * r['mean']:.1f} ± {100 * r['ci95']:.1f}" if r and (m != "zero" or k != pool)
                         else "")
        if any(cells):
            out.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print("\n\n".join(table(p) for p in sys.argv[1:]))
