"""The ``metaopt`` command line. Bad input exits 2 with one line naming the bad value."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from metaopt.errors import ConfigError

__all__ = [
    "main", "build_parser", "EXTRA_COMMANDS", "fail", "positive_int", "positive_float", "key_value", "print_json",
    "DEVICE_HELP",
]

# Modules that add subcommands. Each defines ``add_commands(sub)``, which adds its parsers to the
# subparsers action and sets ``handler=<callable(args) -> int>`` on each with ``set_defaults``.
# These modules must import only argparse-level things at top level; heavy work goes in the handler.
EXTRA_COMMANDS: tuple[str, ...] = (
    "metaopt.cli_tune", "metaopt.cli_rl", "metaopt.hyper.cli", "metaopt.tracking.cli", "prompting.cli",
    "metaopt.cli_calibrate",
)

DEVICE_HELP = ("torch device: cpu (default), cuda, cuda:N, mps, or auto (a GPU if there is one). Not saved with the "
               "run: a run trained on a GPU resumes or evaluates on the CPU and the other way round")

EPILOG = """examples:
  metaopt list algorithms
  metaopt train --algorithm maml --benchmark sinusoid --shots 10 --iterations 3000 --meta-batch 25
  metaopt train --algorithm protonet --benchmark glyphs --ways 5 --shots 1 --out runs/p51
  metaopt evaluate --checkpoint runs/p51 --tasks 600 --json
  metaopt train --algorithm maml --benchmark glyphs --ways 20 --shots 1 --device cuda
  metaopt train --algorithm maml --benchmark sinusoid --track   # then `metaopt ui` to browse it

Running the same `train` command again resumes from the checkpoint in --out."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"metaopt: error: {message}\n")
    raise SystemExit(code)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(raw)
    except json.JSONDecodeError:
        return key.replace("-", "_"), raw


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="metaopt",
        description="Meta-learning with tuning and tracking: train and evaluate meta-learners on few-shot benchmarks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from metaopt import __version__

    parser.add_argument("--version", action="version", version=f"metaopt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list registered algorithms or benchmarks")
    p.add_argument("what", choices=["algorithms", "benchmarks"])
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser(
        "train", help="meta-train a learner, then evaluate it on the fixed meta-test tasks",
        description="Meta-train ALGORITHM on BENCHMARK, validate on fixed validation tasks, keep the best "
        "checkpoint and report mean ± 95% CI on fixed meta-test tasks. Re-running resumes.",
    )
    g = p.add_argument_group("what to train")
    g.add_argument("--algorithm", default="maml", help="registered algorithm (see `metaopt list algorithms`)")
    g.add_argument("--benchmark", default="sinusoid", help="benchmark name (see `metaopt list benchmarks`)")
    g.add_argument("--data-root", help="data folder (Omniglot layout, or where generated data is cached)")
    g.add_argument("--ways", type=positive_int, help="N: classes per episode (classification); arms or grid side (RL)")
    g.add_argument("--shots", type=positive_int,
                   help="K: support examples per class (or points, regression; trial steps, RL)")
    g.add_argument("--queries", type=positive_int, help="query examples per class (or points, regression)")
    g = p.add_argument_group("inner loop (algorithm hyperparameters)")
    g.add_argument("--inner-lr", type=positive_float, help="inner-loop learning rate")
    g.add_argument("--inner-steps", type=positive_int, help="inner steps during meta-training")
    g.add_argument("--eval-inner-steps", type=positive_int, help="inner steps at evaluation (default: same)")
    g.add_argument("--inner-optimizer", choices=["sgd", "momentum", "adam"], help="differentiable inner optimiser")
    g.add_argument("--first-order", action="store_true", default=None, help="drop second-order terms")
    g.add_argument("--param", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="any other hyperparameter of the algorithm, e.g. --param weight=0.5 (repeatable)")
    g = p.add_argument_group("outer loop")
    g.add_argument("--iterations", type=positive_int, help="meta-training iterations (default 1000)")
    g.add_argument("--meta-batch", type=positive_int, help="tasks per outer update (default 16)")
    g.add_argument("--outer-lr", type=positive_float, help="outer learning rate (default: the algorithm's)")
    g.add_argument("--grad-clip", type=positive_float, help="clip the outer gradient's global norm to this value")
    g.add_argument("--val-every", type=positive_int, help="validate every N iterations (default 100)")
    g.add_argument("--val-tasks", type=positive_int, help="fixed validation tasks (default 100)")
    g.add_argument("--patience", type=positive_int, help="stop after this many validations without improvement")
    g.add_argument("--seed", type=int, default=0, help="seed for initialisation and task sampling (default 0)")
    g.add_argument("--device", help=DEVICE_HELP)
    g = p.add_argument_group("output")
    g.add_argument("--test-tasks", type=positive_int, default=600, help="fixed meta-test tasks (default 600)")
    g.add_argument("--out", help="run directory (default runs/ALGO-BENCH-NwKs-seedS); re-running resumes")
    g.add_argument("--overwrite", action="store_true", help="discard an existing run in --out")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    g = p.add_argument_group("tracking (MLflow)")
    g.add_argument("--track", action="store_true",
                   help="log params, metrics by iteration, a learning curve and test results to an MLflow run "
                   "(re-running resumes the same run)")
    g.add_argument("--tracking-uri", metavar="URI", help="MLflow store or server, e.g. http://127.0.0.1:5000 "
                   "(default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db); implies --track")
    g.add_argument("--experiment", help="MLflow experiment (default metaopt-train); implies --track")
    g.add_argument("--register-model", metavar="NAME",
                   help="also log the best model as a pyfunc model registered as NAME; implies --track")

    p = sub.add_parser("evaluate", help="evaluate a saved run on fixed meta-test tasks")
    p.add_argument("--checkpoint", required=True, help="run directory written by `metaopt train`")
    p.add_argument("--tasks", type=positive_int, default=600, help="fixed meta-test tasks (default 600)")
    p.add_argument("--steps", type=positive_int, help="adaptation steps (default: the run's)")
    p.add_argument("--split", choices=["test", "val"], default="test", help="which class split (default test)")
    p.add_argument("--device", help=DEVICE_HELP)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")

    import importlib

    for module in EXTRA_COMMANDS:
        importlib.import_module(module).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from metaopt import cli_commands

    command = {"list": cli_commands.cmd_list, "train": cli_commands.cmd_train, "evaluate": cli_commands.cmd_evaluate}
    handler = getattr(args, "handler", None) or command[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        sys.stderr.write("metaopt: interrupted; finished work is in the last checkpoint, re-run to resume\n")
        return 130


def print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, sort_keys=True))


def elapsed(start: float) -> float:
    return round(time.perf_counter() - start, 2)


def default_out(algorithm: str, benchmark: str, ways: int | None, shots: int, seed: int) -> Path:
    shape = f"{ways}w{shots}s" if ways else f"k{shots}"
    return Path("runs") / f"{algorithm}-{benchmark.replace(':', '_').replace('/', '_')}-{shape}-seed{seed}"
