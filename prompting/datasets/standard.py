"""The standard in-context-learning sets, read from the files of Zhao et al. 2021's repository ("Calibrate
Before Use"), with that paper's prompt templates and label words.

| name   | files under the data root                   | template                                          |
|--------|---------------------------------------------|---------------------------------------------------|
| sst2   | sst2/stsa.binary.{train,test}               | ``Review: {text}\\nSentiment: {label}``            |
| agnews | agnews/test.csv (split 6,000 pool / 1,600)  | instruction, ``Article: {text}\\nAnswer: {label}`` |
| trec   | trec/{train,test}.txt, the 6 coarse classes | instruction, ``Question: ...\\nAnswer Type: ...``  |
| rte    | rte/{train,val}.jsonl (val is the test)     | ``{premise}\\nquestion: {hypothesis} True or  |
|        |                                             | False?\\nanswer: {label}``                        |

Label words are the paper's: SST-2 Negative / Positive; AGNews World / Sports / Business / Technology; TREC
Number / Location / Person / Description / Entity / Ab (its single-token stand-in for Abbreviation); RTE
True (entailment) / False. Texts get the paper's light clean-up (AGNews' HTML entities, TREC's detached
punctuation). Only AGNews' test file ships there: a fixed permutation gives 6,000 rows to the pool and the
other 1,600 to the queries, so the two never meet.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from metaopt.errors import ConfigError
from prompting.datasets.base import LabelledDataset
from prompting.prompt import PromptFormat
from prompting.tasks.base import Example

__all__ = ["STANDARD", "default_data_root", "load_standard", "available_standard"]

AGNEWS_POOL = 6000


def default_data_root() -> Path:
    """``$METAOPT_DATA/icl``, else ``~/.cache/metaopt/icl``: where ``--dataset`` looks without ``--data-root``."""
    base = os.environ.get("METAOPT_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "metaopt")
    return Path(base) / "icl"


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def _sst2(root: Path) -> LabelledDataset:
    def read(name: str) -> list[Example]:
        out = []
        for line in _lines(root / "sst2" / name):
            label, _, text = line.partition(" ")
            out.append(Example(text.strip(), {"0": "negative", "1": "positive"}[label]))
        return out

    return LabelledDataset("sst2", ("negative", "positive"), ("Negative", "Positive"), tuple(read("stsa.binary.train")),
                           tuple(read("stsa.binary.test")), PromptFormat("Review: {text}\nSentiment: {label}"))


def _agnews(root: Path) -> LabelledDataset:
    names = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
    rows = []
    with open(root / "agnews" / "test.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = f"{row['Title']}. {row['Description']}"
            for old, new in ((" #39;s", "'s"), (" quot;", '"'), ("\\", " "), (" #39;ll", "'ll")):
                text = text.replace(old, new)
            rows.append(Example(" ".join(text.split()), names[row["Class Index"]]))
    order = np.random.default_rng(0).permutation(len(rows))
    pool, test = order[:AGNEWS_POOL], order[AGNEWS_POOL:]
    fmt = PromptFormat("Article: {text}\nAnswer: {label}", instruction="Classify the news articles into the "
                       "categories of World, Sports, Business, and Technology.\n\n")
    return LabelledDataset("agnews", tuple(names.values()), ("World", "Sports", "Business", "Technology"),
                           tuple(rows[int(i)] for i in pool), tuple(rows[int(i)] for i in test), fmt)


_TREC = {"NUM": "Number", "LOC": "Location", "HUM": "Person", "DESC": "Description", "ENTY": "Entity", "ABBR": "Ab"}


def _trec(root: Path) -> LabelledDataset:
    def read(name: str) -> list[Example]:
        out = []
        for line in _lines(root / "trec" / name):
            label, _, text = line.partition(" ")
            for old, new in ((" 's", "'s"), ("`` ", '"'), (" ''", '"'), (" ?", "?"), (" ,", ",")):
                text = text.replace(old, new)
            out.append(Example(text.strip(), label.split(":")[0]))
        return out

    fmt = PromptFormat("Question: {text}\nAnswer Type: {label}", instruction="Classify the questions based on "
                       "whether their answer type is a Number, Location, Person, Description, Entity, or "
                       "Abbreviation.\n\n")
    return LabelledDataset("trec", tuple(_TREC), tuple(_TREC.values()), tuple(read("train.txt")),
                           tuple(read("test.txt")), fmt)


def _rte(root: Path) -> LabelledDataset:
    def read(name: str) -> list[Example]:
        out = []
        for n, line in enumerate(_lines(root / "rte" / name), 1):
            try:
                r = json.loads(line)
                parts = (" ".join(r["premise"].split()), " ".join(r["hypothesis"].split()))
                out.append(Example(" ".join(parts), str(r["label"]), parts))
            except (json.JSONDecodeError, KeyError, AttributeError, TypeError):
                raise ConfigError(f"{root / 'rte' / name}:{n}: expected premise, hypothesis and label") from None
        return out

    fmt = PromptFormat("{premise}\nquestion: {hypothesis} True or False?\nanswer: {label}")
    return LabelledDataset("rte", ("not_entailment", "entailment"), ("False", "True"), tuple(read("train.jsonl")),
                           tuple(read("val.jsonl")), fmt)


STANDARD: dict[str, tuple[Callable[[Path], LabelledDataset], tuple[str, ...], str]] = {
    "sst2": (_sst2, ("sst2/stsa.binary.train", "sst2/stsa.binary.test"), "movie-review sentiment, 2 labels"),
    "agnews": (_agnews, ("agnews/test.csv",), "news topic, 4 labels"),
    "trec": (_trec, ("trec/train.txt", "trec/test.txt"), "question type, the 6 coarse labels"),
    "rte": (_rte, ("rte/train.jsonl", "rte/val.jsonl"), "textual entailment of a sentence pair, 2 labels"),
}


def available_standard(root: str | Path | None = None) -> list[str]:
    """The standard sets whose files are under ``root``."""
    base = Path(root) if root is not None else default_data_root()
    return [name for name, (_, files, _) in STANDARD.items() if all((base / f).is_file() for f in files)]


def load_standard(name: str, root: str | Path | None = None) -> LabelledDataset:
    """One of :data:`STANDARD` from ``root`` (default :func:`default_data_root`)."""
    if name not in STANDARD:
        raise ConfigError(f"--dataset {name!r}: unknown; choose from {', '.join(STANDARD)}, or hf:NAME, or give "
                          "--train/--test files")
    loader, files, _ = STANDARD[name]
    base = Path(root) if root is not None else default_data_root()
    missing = [f for f in files if not (base / f).is_file()]
    if missing:
        raise ConfigError(f"--dataset {name}: {base / missing[0]} not found; set --data-root (or $METAOPT_DATA) to "
                          "the folder that holds sst2/, agnews/, trec/ and rte/ as Zhao et al. 2021 ship them")
    return loader(base)
