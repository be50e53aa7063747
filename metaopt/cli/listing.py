"""``metaopt list``: the registered algorithms or benchmarks."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from metaopt.cli._args import print_json

__all__ = ["add_commands", "cmd_list"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list registered algorithms or benchmarks")
    p.add_argument("what", choices=["algorithms", "benchmarks"])
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "benchmarks":
        from metaopt.tasks.benchmarks import BENCHMARK_HELP

        rows = [{"name": k, "description": v} for k, v in BENCHMARK_HELP.items()]
    else:
        from metaopt.algorithms import available_learners, get_learner

        rows = []
        for name in available_learners():
            cls = get_learner(name)
            doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
            defaults = {f.name: f.default for f in dataclasses.fields(cls.Config)}
            rows.append({"name": name, "kinds": sorted(cls.kinds), "description": doc, "defaults": defaults})
    if args.json:
        print_json({"items": rows})
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['description']}")
    return 0
