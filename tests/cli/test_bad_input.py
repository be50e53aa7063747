"""Every option of every subcommand, given a bad value, exits 2 with one line naming the value.

The table is built from the parser itself: each option's value parser gives its bad values, and options
that take free text are listed in STRING_CASES (a bad value each) or FREE_TEXT (why any text is valid),
so a new option without a bad-input case fails ``test_every_option_is_covered``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from metaopt.cli import build_parser
from metaopt.testing import run_cli

# Bad values by the name of the option's value parser (metaopt.cli._args and the command modules).
BY_PARSER: dict[str, list[str]] = {
    "positive_int": ["0", "-1", "abc"],
    "nonnegative_int": ["-1", "abc"],
    "positive_float": ["0", "-1", "nan", "inf", "-inf", "abc"],
    "finite_float": ["nan", "inf", "abc"],
    "seed_int": ["-3", "abc", "4294967296"],
    "port": ["0", "99999", "abc"],
    "weight_decay": ["-1", "nan"],
    "momentum": ["1.5", "-0.1", "inf"],
    "bounds": ["1", "nan,1", "1,inf", "a,b"],
    "csv_of_positive_int": ["0", "1,-2", "a"],
    "csv_of_nonnegative_int": ["-1", "1,-2", "a"],
    "csv_of_str": [","],
    "key_value": ["noequals"],
    "_names": [","],
    "names": [","],
    "model_path": ["MISSING.gguf", "NOT_GGUF"],
}

# What each subcommand needs besides the option under test (so the option, not a missing one, fails).
REQUIRED = {
    "evaluate": ["--checkpoint", "CHECKPOINT"],
    "tune": ["--benchmark", "sinusoid", "--trials", "1"], "hyper": ["--method", "unrolled"],
    "prompt compare": ["--family", "wordnet"], "prompt tune": ["--family", "wordnet", "--trials", "1"],
    "prompt fit": ["--train", "TRAIN_JSONL", "--selector", "knn", "--out", "NEW_FOLDER"],
    "prompt select": ["--selector", "SAVED_SELECTOR", "--query", "a query"],
}

# Where an option belongs to another mode than REQUIRED's (datasets instead of --family), what it needs instead.
REQUIRED_FOR = {
    ("prompt compare", "--dataset"): ["--data-root", "ICL_ROOT"],
    ("prompt compare", "--data-root"): ["--dataset", "sst2"],
    ("prompt compare", "--train"): ["--test", "TRAIN_JSONL"],
    ("prompt compare", "--test"): ["--train", "TRAIN_JSONL"],
    **{("prompt compare", o): ["--train", "TRAIN_JSONL", "--test", "TRAIN_JSONL"]
       for o in ("--text-field", "--label-field", "--verbalizer", "--template")},
    ("prompt fit", "--train"): ["--out", "NEW_FOLDER"],
    ("prompt fit", "--dataset"): ["--out", "NEW_FOLDER", "--data-root", "ICL_ROOT"],
    ("prompt fit", "--data-root"): ["--out", "NEW_FOLDER", "--dataset", "sst2"],
    ("prompt fit", "--out"): ["--train", "TRAIN_JSONL", "--selector", "knn"],
    ("prompt select", "--selector"): ["--query", "a query"],
    ("prompt select", "--query"): ["--selector", "SAVED_SELECTOR"],
}

# Free-text options: (extra arguments, bad value, text the error line must contain). CHECKPOINT, EMPTY_STUDY,
# A_FILE and A_FOLDER are replaced by real paths made in tmp_path.
STRING_CASES: dict[tuple[str, str], tuple[list[str], str, str]] = {
    ("train", "--algorithm"): ([], "nope", "'nope'"),
    ("train", "--benchmark"): ([], "imagenet-9000", "'imagenet-9000'"),
    ("train", "--data-root"): (["--benchmark", "omniglot", "--ways", "5"], "/nonexistent/omniglot", "/nonexistent"),
    ("train", "--device"): ([], "tpu9", "'tpu9'"),
    ("train", "--out"): ([], "A_FILE", "A_FILE"),
    ("train", "--scores"): ([], "A_FOLDER", "A_FOLDER"),
    ("train", "--tracking-uri"): ([], "bogus://x", "bogus://x"),
    ("evaluate", "--checkpoint"): ([], "/nonexistent/run", "/nonexistent/run"),
    ("evaluate", "--device"): ([], "tpu9", "'tpu9'"),
    ("evaluate", "--scores"): ([], "A_FOLDER", "A_FOLDER"),
    ("tune", "--benchmark"): ([], "imagenet-9000", "'imagenet-9000'"),
    ("tune", "--storage"): ([], "bogus-storage", "bogus-storage"),
    ("tune", "--device"): ([], "tpu9", "'tpu9'"),
    ("tune", "--tracking-uri"): ([], "bogus://x", "bogus://x"),
    ("rl-compare", "--checkpoint"): ([], "/nonexistent/run", "/nonexistent/run"),
    ("rl-compare", "--baselines"): ([], "oracle9", "oracle9"),
    ("hyper", "--algorithm"): (["--method", "inner"], "nope", "'nope'"),
    ("hyper", "--benchmark"): (["--method", "inner", "--algorithm", "maml"], "imagenet-9000", "'imagenet-9000'"),
    ("hyper", "--tracking-uri"): (["--method", "unrolled"], "bogus://x", "bogus://x"),
    ("report", "--storage"): ([], "sqlite:////nonexistent/optuna.db", "/nonexistent/optuna.db"),
    ("report", "--study"): (["--storage", "EMPTY_STUDY"], "nope", "'nope'"),
    ("report", "--out"): (["--storage", "EMPTY_STUDY"], "A_FOLDER", "A_FOLDER"),
    ("report", "--tracking-uri"): (["--storage", "EMPTY_STUDY"], "bogus://x", "bogus://x"),
    ("ui", "--storage"): ([], "bogus://x", "bogus://x"),
    ("ui", "--tracking-uri"): ([], "bogus://x", "bogus://x"),
    ("prompt compare", "--family"): ([], "nope", "'nope'"),
    ("prompt compare", "--tracking-uri"): ([], "bogus://x", "bogus://x"),
    ("prompt compare", "--out"): ([], "A_FOLDER", "A_FOLDER"),
    ("prompt compare", "--device"): ([], "tpu9", "'tpu9'"),
    ("prompt tune", "--device"): ([], "tpu9", "'tpu9'"),
    ("prompt tune", "--family"): ([], "nope", "'nope'"),
    ("prompt tune", "--selector"): ([], "nope", "'nope'"),
    ("prompt tune", "--storage"): ([], "bogus-storage", "bogus-storage"),
    ("prompt tune", "--tracking-uri"): ([], "bogus://x", "bogus://x"),
    ("calibrate", "--checkpoint"): ([], "/nonexistent/run", "/nonexistent/run"),
    ("prompt compare", "--dataset"): ([], "imdb", "'imdb'"),
    ("prompt compare", "--data-root"): ([], "/nonexistent/icl", "/nonexistent/icl"),
    ("prompt compare", "--train"): ([], "/nonexistent/t.jsonl", "/nonexistent/t.jsonl"),
    ("prompt compare", "--test"): ([], "/nonexistent/t.jsonl", "/nonexistent/t.jsonl"),
    ("prompt compare", "--text-field"): ([], "body", "'body'"),
    ("prompt compare", "--label-field"): ([], "tag", "'tag'"),
    ("prompt compare", "--verbalizer"): ([], "nope", "'nope'"),
    ("prompt compare", "--template"): ([], "Text: {text}", "Text: {text}"),
    ("prompt fit", "--train"): ([], "/nonexistent/t.jsonl", "/nonexistent/t.jsonl"),
    ("prompt fit", "--dataset"): ([], "imdb", "'imdb'"),
    ("prompt fit", "--data-root"): ([], "/nonexistent/icl", "/nonexistent/icl"),
    ("prompt fit", "--text-field"): ([], "body", "'body'"),
    ("prompt fit", "--label-field"): ([], "tag", "'tag'"),
    ("prompt fit", "--verbalizer"): ([], "nope", "'nope'"),
    ("prompt fit", "--template"): ([], "Text: {text}", "Text: {text}"),
    ("prompt fit", "--out"): ([], "A_FILE", "A_FILE"),
    ("prompt fit", "--tracking-uri"): (["--register-model", "demos"], "bogus://x", "bogus://x"),
    ("prompt fit", "--device"): ([], "tpu9", "'tpu9'"),
    ("prompt select", "--selector"): ([], "A_FOLDER", "A_FOLDER"),
    ("prompt select", "--query"): ([], "", "non-empty"),
}

# Options whose value is any text (a name chosen by the user), or which are checked only when loaded.
FREE_TEXT = {
    ("train", "--experiment"): "an MLflow experiment name",
    ("train", "--register-model"): "an MLflow registered model name",
    ("tune", "--study"): "a study name",
    ("hyper", "--experiment"): "an MLflow experiment name",
    ("prompt compare", "--experiment"): "an MLflow experiment name",
    ("prompt compare", "--encoder"): "a hub name or folder, checked by the loader (tests/prompting)",
    ("prompt tune", "--study"): "a study name",
    ("prompt tune", "--encoder"): "a hub name or folder, checked by the loader (tests/prompting)",
    ("prompt fit", "--encoder"): "a hub name or folder, checked by the loader (tests/prompting)",
    ("prompt fit", "--experiment"): "an MLflow experiment name",
    ("prompt fit", "--register-model"): "an MLflow registered model name",
}


def _options() -> list[tuple[str, str, argparse.Action]]:
    found = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*path, name])
            elif action.option_strings and action.nargs != 0 and not isinstance(
                    action, (argparse._HelpAction, argparse._VersionAction)):
                found.append((" ".join(path), action.option_strings[-1], action))

    walk(build_parser(), [])
    return found


def _cases() -> list[tuple[str, str, list[str], str, str]]:
    cases = []
    for command, option, action in _options():
        if action.choices is not None:
            cases.append((command, option, [], "bogus-choice", "bogus-choice"))
        elif action.type is not None and getattr(action.type, "__name__", "") in BY_PARSER:
            cases += [(command, option, [], bad, bad) for bad in BY_PARSER[action.type.__name__]]
        elif (command, option) in STRING_CASES:
            extra, bad, needle = STRING_CASES[command, option]
            cases.append((command, option, extra, bad, needle))
    return cases


def test_every_option_is_covered():
    uncovered = [f"{c} {o}" for c, o, a in _options()
                 if a.choices is None and getattr(a.type, "__name__", "") not in BY_PARSER
                 and (c, o) not in STRING_CASES and (c, o) not in FREE_TEXT]
    assert not uncovered, f"options with no bad-input case: {uncovered}"


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    (root / "a_file").write_text("not a run directory\n")
    (root / "a_folder").mkdir()
    (root / "not_gguf").write_bytes(b"PK\x03\x04 not a gguf file")
    checkpoint = root / "run"
    code = run_cli_quiet(["train", "--shots", "2", "--iterations", "1", "--meta-batch", "1", "--val-every", "1",
                          "--val-tasks", "1", "--test-tasks", "1", "--out", str(checkpoint), "--no-progress"])
    assert code == 0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="empty", storage=f"sqlite:///{root}/optuna.db")
    import json

    from prompting.deploy import fit_selector
    from prompting.prompt import PromptFormat
    from prompting.tasks.base import Example

    rows = [{"text": f"text {i}", "label": "ab"[i % 2]} for i in range(6)]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pool = [Example(r["text"], r["label"]) for r in rows]
    fit_selector("random", pool, classes=("a", "b"), verbalisers=("a", "b"), prompt_format=PromptFormat(), lm=None,
                 encoder=None).save(root / "saved")
    icl = Path(__file__).resolve().parents[3] / "shared" / "data" / "icl"
    return {"A_FILE": str(root / "a_file"), "A_FOLDER": str(root / "a_folder"), "NOT_GGUF": str(root / "not_gguf"),
            "MISSING.gguf": str(root / "missing.gguf"), "CHECKPOINT": str(checkpoint),
            "EMPTY_STUDY": f"sqlite:///{root}/optuna.db", "TRAIN_JSONL": str(root / "train.jsonl"),
            "NEW_FOLDER": str(root / "new-selector"), "SAVED_SELECTOR": str(root / "saved"), "ICL_ROOT": str(icl)}


def run_cli_quiet(args: list[str]) -> int:
    from metaopt.cli import main

    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("command,option,extra,bad,needle", _cases(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_bad_value_exits_2_in_one_line(command, option, extra, bad, needle, paths, capsys, monkeypatch,
                                       tmp_path):
    monkeypatch.chdir(tmp_path)  # nothing a case writes lands in the repository
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def real(text: str) -> str:
        return paths.get(text, text)

    required = [real(a) for a in REQUIRED_FOR.get((command, option), REQUIRED.get(command, []))]
    args = [*command.split(), *required, *map(real, extra), f"{option}={real(bad)}"]  # = lets "-inf" be a value
    code, _, err = run_cli(args, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (args, err)
    assert len(lines) == 1 and lines[0].startswith("metaopt: error:"), (args, err)
    assert real(needle) in lines[0], (args, lines[0])
    assert not Path(paths["NEW_FOLDER"]).exists()  # a refused `prompt fit` makes no folder
