"""``metaopt rl-compare``: regret of trained RL^2 runs next to UCB1, Thompson sampling and random play."""

from __future__ import annotations

import argparse

from metaopt.cli._args import positive_int, seed_int

__all__ = ["add_commands"]

EPILOG = """examples:
  metaopt train --algorithm rl2 --benchmark bandit --ways 5 --shots 100 --iterations 3000 --out runs/rl2-k5-h100
  metaopt rl-compare --benchmark bandit --ways 5 --shots 100 --tasks 1000 --checkpoint runs/rl2-k5-h100
  metaopt rl-compare --benchmark gridworld --tasks 500 --json     # random play and search-then-shuttle

Regret is the oracle's expected return minus the method's (bandits: horizon * max p - sum of p of the
arms pulled; grid world: horizon // distance to the goal, the oracle that knows it, minus the goals
reached); mean ± 95% CI over the same fixed meta-test tasks `metaopt evaluate` uses. Grid-world baselines:
random play, and `search`, which walks to the nearest cell it has not visited until it finds the goal,
then shuttles to it (what RL^2 should learn)."""


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rl-compare", help="regret of RL^2 runs next to UCB1 / Thompson sampling / random on the same tasks",
        description="Play every method on the same fixed meta-test tasks (and the same reward draws) and "
        "report regret, mean ± 95%% CI, as in the RL^2 paper's bandit table.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--benchmark", default="bandit", choices=["bandit", "gridworld"], help="task family")
    p.add_argument("--ways", type=positive_int, help="arms k (bandit) or grid side (gridworld); default 5")
    p.add_argument("--shots", type=positive_int, help="horizon: pulls (bandit, default 100) or steps (gridworld, 50)")
    p.add_argument("--tasks", type=positive_int, default=1000, help="fixed meta-test tasks (default 1000)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="DIR",
                   help="an rl2 run directory to include (repeatable); its --ways/--shots must match")
    p.add_argument("--baselines", default=None,
                   help="comma-separated: ucb1,thompson,random for bandits (default all three); random,search for "
                   "grid worlds (default both)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the baselines' own random choices (default 0)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.set_defaults(handler=cmd_rl_compare)


def cmd_rl_compare(args: argparse.Namespace) -> int:
    import torch

    from metaopt.cli._args import elapsed, print_json
    from metaopt.rl_compare import compare
    from metaopt.stats import format_ci

    torch.set_num_threads(1)
    import time

    start = time.perf_counter()
    baselines = None if args.baselines is None else [b.strip() for b in args.baselines.split(",") if b.strip()]
    table = compare(args.benchmark, ways=args.ways, shots=args.shots, n_tasks=args.tasks, checkpoints=args.checkpoint,
                    baselines=baselines, seed=args.seed, progress=not args.no_progress)
    width = max(len(name) for name in table["results"])
    print(f"{args.benchmark} k/side={table['ways']} horizon={table['shots']}, {table['tasks']} fixed test tasks, "
          f"oracle return {table['oracle_return']:.2f}")
    for name, row in table["results"].items():
        print(f"{name:<{width}}  regret {format_ci(row['mean'], row['ci95'])}   return {row['return']:.2f}")
    if args.json:
        print_json({**table, "seconds": elapsed(start)})
    return 0
