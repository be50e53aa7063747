"""The ``metaopt`` command line: one module per command in this package, shared argument helpers in
``metaopt.cli._args``. Bad input exits 2 with one line naming the bad value."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from metaopt.cli._args import Parser, fail

__all__ = ["main", "build_parser", "COMMANDS"]

# One module per command, in the order `metaopt --help` lists them. Each defines ``add_commands(sub)``,
# which adds its parsers to the subparsers action and sets ``handler=<callable(args) -> int>`` on each
# with ``set_defaults``. They import only argparse-level things at top level; heavy work goes in the handler.
COMMANDS: tuple[str, ...] = (
    "metaopt.cli.listing", "metaopt.cli.train", "metaopt.cli.evaluate", "metaopt.cli.tune",
    "metaopt.cli.rl_compare", "metaopt.cli.hyper", "metaopt.cli.report", "metaopt.cli.ui", "metaopt.cli.prompt",
    "metaopt.cli.calibrate",
)

EPILOG = """examples:
  metaopt list algorithms
  metaopt train --algorithm maml --benchmark sinusoid --shots 10 --iterations 3000 --meta-batch 25
  metaopt train --algorithm protonet --benchmark glyphs --ways 5 --shots 1 --out runs/p51
  metaopt evaluate --checkpoint runs/p51 --tasks 600 --json
  metaopt train --algorithm maml --benchmark glyphs --ways 20 --shots 1 --device cuda
  metaopt train --algorithm maml --benchmark sinusoid --track   # then `metaopt ui` to browse it

Running the same `train` command again resumes from the checkpoint in --out."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="metaopt",
        description="Meta-learning with tuning and tracking: train and evaluate meta-learners on few-shot benchmarks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from metaopt import __version__

    parser.add_argument("--version", action="version", version=f"metaopt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMANDS:
        importlib.import_module(module).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from metaopt._network import apply_network_timeouts
    from metaopt.errors import ConfigError

    args = build_parser().parse_args(argv)
    apply_network_timeouts()  # before any connection; workers and servers it starts inherit them
    try:
        return args.handler(args)
    except ConfigError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except OSError as exc:
        if exc.filename is None or not exc.strerror:  # not about a file the user named: a bug, keep its traceback
            raise
        fail(f"{exc.filename}: {exc.strerror.lower()}")
    except MemoryError:
        fail("out of memory: choose smaller sizes (--ways, --shots, --queries, --meta-batch, --tasks)")
    except KeyboardInterrupt:
        sys.stderr.write("metaopt: interrupted; finished work is in the last checkpoint, re-run to resume\n")
        return 130
