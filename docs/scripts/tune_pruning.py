"""Issue #4: the same study with and without pruning, side by side, then one table.

    OMP_NUM_THREADS=1 nice -n 5 python docs/scripts/tune_pruning.py            # defaults below
    python docs/scripts/tune_pruning.py --table-only [--first N]                # re-print the table

Each pruner's study runs in its own process (in parallel), with its own Optuna and MLflow SQLite
files under --out, the same sampler seed, space and per-trial budget. The space is the joint space
over --algorithms with the meta-batch fixed (--meta-batch), so "meta-iterations" measure the same
compute whatever the algorithm draws. Results: --out/<pruner>.json and the printed table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def run_one(args: argparse.Namespace, pruner: str) -> None:
    import optuna
    import torch

    from metaopt.tuning import TuneConfig, tune
    from search_spaces import joint_space, with_fixed

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = Path(args.out)
    algorithms = args.algorithms.split(",")
    cfg = TuneConfig(
        benchmark="glyphs", ways=5, shots=1, algorithms=algorithms,
        space=with_fixed(joint_space(algorithms), {"meta_batch": args.meta_batch}),
        trials=args.trials, iterations=args.iterations, val_every=args.val_every, val_tasks=args.val_tasks,
        pruner=pruner, sampler="tpe", seed=args.seed, study=f"pruning-{pruner}",
        storage=f"sqlite:///{out}/optuna-{pruner}.db", tracking_uri=f"sqlite:///{out}/mlflow-{pruner}.db",
        runs_dir=str(out / "runs"), register_model=False, progress=False,
    )
    summary = tune(cfg)
    (out / f"{pruner}.json").write_text(json.dumps(summary, indent=1, sort_keys=True))


def _so_far(out: Path, pruner: str, first: int | None) -> dict:
    """The study as its storage holds it now (a study still running, or stopped before its budget)."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=f"pruning-{pruner}", storage=f"sqlite:///{out}/optuna-{pruner}.db")
    done = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    done = done[:first] if first else done
    complete = [t for t in done if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    return {"trials": len(done), "complete": len(complete), "pruned": sum(t.state == TrialState.PRUNED for t in done),
            "fail": sum(t.state == TrialState.FAIL for t in done),
            "iterations": sum(int(t.user_attrs.get("iterations_run", 0)) for t in done),
            # FAIL excluded: a trial whose worker was killed "lasts" until the next run marks it failed
            "best": best, "minutes": sum(t.duration.total_seconds() for t in done
                                         if t.duration and t.state != TrialState.FAIL) / 60}


def table(out: Path, pruners: list[str], first: int | None = None) -> str:
    """Final results from --out/<pruner>.json; with ``first``, the first N finished trials of each study
    read from its storage (best validation only: the test evaluation happens when a study ends)."""
    rows = ["| pruner | trials (complete / pruned / failed) | meta-iterations spent | vs. none | best trial "
            "| best val. acc. | test acc. (600 tasks) | trial time (sum, failed excluded) |",
            "|---|---|---|---|---|---|---|---|"]
    base = None
    for pruner in pruners:
        path = out / f"{pruner}.json"
        if first is None and path.is_file():
            s = json.loads(path.read_text())
            st = s["states"]
            row = dict(trials=s["trials"], complete=st["complete"], pruned=st["pruned"], fail=st["fail"],
                       iterations=s["iterations_spent"], best=f"{s['best_trial']} ({s['algorithm']})",
                       val=100 * s["best_val"], test=f"{100 * s['test_mean']:.2f} ± {100 * s['test_ci95']:.2f}",
                       # summed over the trials in storage: a resumed study's summary times only its last call
                       minutes=_so_far(out, pruner, None)["minutes"])
        elif (out / f"optuna-{pruner}.db").is_file():
            s = _so_far(out, pruner, first)
            b = s["best"]
            row = dict(trials=s["trials"], complete=s["complete"], pruned=s["pruned"], fail=s["fail"],
                       iterations=s["iterations"], best=f"{b.number} ({b.user_attrs['algorithm']})" if b else "-",
                       val=100 * b.value if b else float("nan"), test="not evaluated", minutes=s["minutes"])
        else:
            rows.append(f"| {pruner} | not run | | | | | | |")
            continue
        if pruner == "none":
            base = row["iterations"]
        ratio = f"{row['iterations'] / base:.2f}×" if base else ""
        rows.append(f"| {pruner} | {row['trials']} ({row['complete']} / {row['pruned']} / {row['fail']}) | "
                    f"{row['iterations']} | {ratio} | {row['best']} | {row['val']:.2f} | {row['test']} | "
                    f"{row['minutes']:.0f} min |")
    return "\n".join(rows)


def paired_check(out: Path, pruner: str) -> str:
    """Pruned trials whose exact configuration the unpruned study also ran (same sampler seed: TPE's
    first random trials coincide): what they would have reached, against the unpruned study's best."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load = lambda p: optuna.load_study(study_name=f"pruning-{p}", storage=f"sqlite:///{out}/optuna-{p}.db")  # noqa: E731
    full, pruned = load("none"), load(pruner)
    finals = {tuple(sorted(t.params.items())): t.value for t in full.trials if t.state == TrialState.COMPLETE}
    best = max(finals.values())
    lines = []
    for t in pruned.trials:
        final = finals.get(tuple(sorted(t.params.items())))
        if t.state == TrialState.PRUNED and final is not None:
            lines.append(f"- trial {t.number} ({t.user_attrs['algorithm']}) pruned at iteration "
                         f"{t.user_attrs['pruned_at']}; unpruned it reached {100 * final:.2f}% "
                         f"(best of the unpruned study: {100 * best:.2f}%)")
    return "\n".join(lines) or "- no pruned trial has an unpruned twin yet"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pruners", default="none,median,wilcoxon")
    p.add_argument("--algorithms", default="maml,anil,metasgd,reptile")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--val-every", type=int, default=8)
    p.add_argument("--val-tasks", type=int, default=40)
    p.add_argument("--meta-batch", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/tune-pruning")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--first", type=int, help="with --table-only: compare the first N finished trials of each study")
    args = p.parse_args()
    pruners = args.pruners.split(",")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.one:
        run_one(args, args.one)
        return
    if not args.table_only:
        argv = [a for a in sys.argv[1:] if a != "--table-only"]
        procs = [subprocess.Popen([sys.executable, __file__, *argv, "--one", pr]) for pr in pruners]
        codes = [proc.wait() for proc in procs]
        if any(codes):
            print(f"some studies failed: exit codes {dict(zip(pruners, codes))}", file=sys.stderr)
    print(table(Path(args.out), pruners, args.first))
    if "none" in pruners:
        for pruner in pruners:
            if pruner != "none" and (Path(args.out) / f"optuna-{pruner}.db").is_file():
                print(f"\n{pruner}: pruned trials with an unpruned twin\n" + paired_check(Path(args.out), pruner))


if __name__ == "__main__":
    main()
