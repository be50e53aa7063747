"""``metaopt evaluate``: a saved run on the fixed meta-test (or validation) tasks."""

from __future__ import annotations

import argparse
import sys
import time

from metaopt.cli._args import (
    DEVICE_HELP,
    ENGINE_HELP,
    SCORES_HELP,
    check_out_file,
    elapsed,
    nonnegative_int,
    positive_int,
    print_json,
    scores_summary,
    write_scores,
)
from metaopt.typing import ENGINE_CHOICES

__all__ = ["add_commands", "cmd_evaluate"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a saved run on fixed meta-test tasks")
    p.add_argument("--checkpoint", required=True, help="run directory written by `metaopt train`")
    p.add_argument("--tasks", type=positive_int, default=600, help="fixed meta-test tasks (default 600)")
    p.add_argument("--steps", type=nonnegative_int,
                   help="adaptation steps (default: the run's; 0 scores the meta-learned start before any "
                        "adaptation, e.g. a MAML-RL policy's return at 0 steps)")
    p.add_argument("--split", choices=["test", "val"], default="test", help="which class split (default test)")
    p.add_argument("--device", help=DEVICE_HELP)
    p.add_argument("--engine", choices=ENGINE_CHOICES, help=ENGINE_HELP)
    p.add_argument("--inner-checkpoint", action="store_true",
                   help="as in `metaopt train`; evaluation adapts without a meta-graph, so it changes nothing "
                   "here, but it is accepted (and checked against the learner) so train's options work here too")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.add_argument("--scores", metavar="FILE", help=SCORES_HELP)
    p.set_defaults(handler=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from metaopt.runs import load_run

    start = time.perf_counter()
    if args.scores:
        # before the work, whose result would otherwise be lost; never one of the evaluated run's own files
        from pathlib import Path

        from metaopt.cli.train import RUN_FILES

        check_out_file(args.scores, "--scores", kind="scores",
                       stores=[("--checkpoint", str(Path(args.checkpoint) / name)) for name in sorted(RUN_FILES)])
    run = load_run(args.checkpoint)
    trainer = run.trainer(None, progress=not args.no_progress, device=args.device, engine=args.engine,
                          inner_checkpoint=args.inner_checkpoint, compile=False)  # nothing to compile here
    if trainer.engine_note:
        print(f"note: {trainer.engine_note}", file=sys.stderr)
    result = trainer.evaluate(args.split, args.tasks, steps=args.steps)
    cfg = run.config
    print(f"{cfg.algorithm} on {cfg.benchmark} ({args.split}): {result}")
    common = scores_summary(cfg, result, args.steps, args.split)
    if args.scores:
        write_scores(args.scores, args.checkpoint, common, result.per_task)
    if args.json:
        print_json({**common, "tasks": result.n_tasks, "diverged_tasks": result.diverged, "seconds": elapsed(start),
                    "engine": trainer.engine, "inner_checkpoint": trainer.inner_checkpoint})
    return 0
