"""Print issue #32's tables from the committed raw results (docs/prompt_icl/MODEL/DATASET-k4.json, -k018.json):
accuracy (mean over seeds ± t-interval over seeds) per selector and dataset, each selector's difference against
kNN paired by query, the extra k values, what each run cost and where the issue's targets stand.

    python docs/scripts/icl_table.py docs/prompt_icl/smollm2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DATASETS = ("sst2", "agnews", "trec", "rte")


def load(folder: Path, suffix: str) -> dict[str, dict]:
    """Each dataset's raw result, its rows recomputed from the per-query predictions (not the rows saved with
    it), so every table follows the one definition in prompting.dataset_compare.summary_rows."""
    from prompting.dataset_compare import summary_rows

    out = {}
    for name in DATASETS:
        path = folder / f"{name}-{suffix}.json"
        if path.is_file():
            result = json.loads(path.read_text())
            result["rows"] = summary_rows(result["per_task"], result["per_query"], result["gold"])
            out[name] = result
    return out


def cell(row: dict | None, key: str = "mean", ci: str = "ci95", signed: bool = False, seeds: int = 0) -> str:
    """``mean ± interval``; a cell with fewer seeds than its column (a run still going) says how many."""
    if row is None or key not in row:
        return "-"
    sign = "+" if signed else ""
    value = f"{100 * row[key]:{sign}.1f}"
    text = value if row.get(ci) is None else f"{value} ± {100 * row[ci]:.1f}"
    queries = row["n_queries"] // max(row["n_seeds"], 1)
    have = (row["vs_knn_pairs"] // max(queries, 1)) if signed else row["n_seeds"]
    return text if have >= seeds else f"{text} ({have} seed{'s' if have != 1 else ''})"


def rows_by_key(result: dict) -> dict[tuple[str, int], dict]:
    return {(r["method"], r["k"]): r for r in result["rows"]}


def table(results: dict[str, dict], keys: list[tuple[str, int]], *, paired: bool) -> list[str]:
    names = [d for d in DATASETS if d in results]
    head = "| method | k | " + " | ".join(f"{d} ({seeds(results[d])})" for d in names) + " |"
    lines = [head, "|" + "---|" * (2 + len(names))]
    by = {d: rows_by_key(results[d]) for d in names}
    most = {d: max(r["n_seeds"] for r in results[d]["rows"]) for d in names}
    for method, k in keys:
        cells = [cell(by[d].get((method, k)), "vs_knn", "vs_knn_ci95", True, most[d]) if paired else
                 cell(by[d].get((method, k)), seeds=most[d]) for d in names]
        if paired and all(c == "-" for c in cells):
            continue
        lines.append(f"| {method} | {k} | " + " | ".join(cells) + " |")
    return lines


def seeds(result: dict) -> str:
    """``seeds x queries`` of the run's most advanced row."""
    row = max(result["rows"], key=lambda r: r["n_seeds"])
    return f"{row['n_seeds']} x {row['n_queries'] // row['n_seeds']}"


def ordered_keys(results: dict[str, dict]) -> list[tuple[str, int]]:
    keys: dict[tuple[str, int], None] = {}
    for result in results.values():
        for r in result["rows"]:
            keys[(r["method"], r["k"])] = None
    return sorted(keys, key=lambda mk: (mk[1], mk[0].replace("+cc", "~")))


def targets(results: dict[str, dict]) -> list[str]:
    lines = []
    for method in ("learned", "meta", "learned+cc", "meta+cc"):
        rows = {d: rows_by_key(r).get((method, 4)) for d, r in results.items()}
        done = {d: r for d, r in rows.items() if r is not None and "vs_knn" in r}
        at_least = [d for d, r in done.items() if r["vs_knn"] >= 0]
        resolved = [d for d, r in done.items() if r.get("vs_knn_ci95") is not None and
                    r["vs_knn"] - r["vs_knn_ci95"] > 0]
        base = "kNN+cc" if method.endswith("+cc") else "kNN"
        lines.append(f"- `{method}` at k = 4: >= {base} on {len(at_least)} of {len(done)} datasets run "
                     f"({', '.join(at_least) or 'none'}); above {base} with a paired interval excluding 0 on "
                     f"{len(resolved)} ({', '.join(resolved) or 'none'}).")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="docs/prompt_icl/MODEL")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        sys.stderr.write(f"icl_table.py: error: {args.folder} is not a folder of results\n")
        return 2
    k4, extra = load(args.folder, "k4"), load(args.folder, "k018")
    if not k4 and not extra:
        sys.stderr.write(f"icl_table.py: error: no DATASET-k4.json or -k018.json in {args.folder}\n")
        return 2
    out = []
    if k4:
        out += ["Accuracy (%) at k = 4, mean over seeds ± t-interval over seeds (seeds x queries per column):", ""]
        out += table(k4, ordered_keys(k4), paired=False)
        out += ["", "Difference against kNN at k = 4 (points), paired by query, t-interval over all pairs; calibrated "
                "rows against calibrated kNN (`knn+cc` itself against `knn`):", ""]
        out += table(k4, [k for k in ordered_keys(k4) if k[0] != "knn"], paired=True)
        out += ["", *targets(k4)]
    if extra:
        out += ["", "Accuracy (%) at k = 0, 1, 8:", ""] + table(extra, ordered_keys(extra), paired=False)
        out += ["", "Difference against kNN at k = 1, 8 (points), paired by query (calibrated against calibrated):",
                ""]
        out += table(extra, [k for k in ordered_keys(extra) if k[0] != "knn" and k[1] > 0], paired=True)
    cost = []
    for suffix, results in (("k4", k4), ("k018", extra)):
        for d, r in results.items():
            prompts = r["lm_prompts"] + sum(r["selection_prompts"].values())
            cost.append(f"| {d}-{suffix} | {r.get('model')} ({r.get('dtype')}) | {seeds(r)} | {prompts} | "
                        f"{r['seconds'] / 60:.0f} |")
    out += ["", "| run | model | seeds x queries | LM prompts | minutes |", "|---|---|---|---|---|", *cost]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
