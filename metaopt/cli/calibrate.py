"""``metaopt calibrate``: accuracy and expected calibration error of saved classification runs."""

from __future__ import annotations

import argparse

from metaopt.cli._args import positive_int

__all__ = ["add_commands"]

EPILOG = """examples:
  metaopt train --algorithm abml --benchmark glyphs --ways 5 --shots 1 --inner-lr 0.4 --out runs/abml51
  metaopt calibrate --checkpoint runs/abml51 --checkpoint runs/maml51 --tasks 600 --json

ECE pools the query predictions of all tasks into 15 equal-width confidence bins (Guo et al. 2017).
For ABML the predictive distribution is the average over its posterior samples."""


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate", help="accuracy and expected calibration error (ECE) of saved classification runs",
        description="Adapt each saved run to the fixed meta-test tasks and report accuracy and ECE of its "
        "query predictions.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", action="append", required=True, metavar="DIR",
                   help="run directory written by `metaopt train` (repeatable)")
    p.add_argument("--tasks", type=positive_int, default=600, help="fixed meta-test tasks (default 600)")
    p.add_argument("--steps", type=positive_int, help="adaptation steps (default: each run's)")
    p.add_argument("--bins", type=positive_int, default=15, help="confidence bins (default 15)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from metaopt.cli._args import print_json
    from metaopt.evaluation import evaluate_calibration
    from metaopt.runs import load_run
    from metaopt.trainer import TEST_SEED

    rows = {}
    for directory in args.checkpoint:
        run = load_run(directory)
        tasks = run.sources["test"].fixed_tasks(args.tasks, TEST_SEED)
        result = evaluate_calibration(run.learner, tasks, steps=args.steps, bins=args.bins,
                                      progress=not args.no_progress)
        rows[directory] = {"algorithm": run.config.algorithm, **result}
        print(f"{directory} ({run.config.algorithm}): accuracy {100 * result['accuracy']:.2f}%  "
              f"ECE {100 * result['ece']:.2f}%  ({args.tasks} tasks)")
    if args.json:
        print_json({"tasks": args.tasks, "bins": args.bins, "results": rows})
    return 0
