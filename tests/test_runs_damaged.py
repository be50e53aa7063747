"""A run folder's config.json edited or damaged: every command that reads it answers in one line and exit 2."""

from __future__ import annotations

import json
import shutil

import pytest

from metaopt.testing import run_cli

TINY = ["--shots", "2", "--iterations", "1", "--meta-batch", "1", "--val-every", "1", "--val-tasks", "1",
        "--test-tasks", "1", "--no-progress"]

DAMAGED = {
    "a list": ([1, 2, 3], "expected a JSON object"),
    "empty": ({}, "algorithm must be a name"),
    "fractional shots": ({"shots": 2.5}, "shots must be a positive integer or null, got 2.5"),
    "shots as text": ({"shots": "2"}, "shots must be a positive integer or null"),
    "learner as a list": ({"learner": [1]}, "learner must be a JSON object"),
    "unknown key": ({"colour": "red"}, "unknown run config keys: colour"),
    "nested bad value": ({"train": {"meta_batch": "x"}}, "meta_batch"),
    "no algorithm": ({"algorithm": None}, "algorithm must be a name"),
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from metaopt.cli import main

    root = tmp_path_factory.mktemp("damaged")
    assert main(["train", *TINY, "--out", str(root / "run")]) == 0
    return root / "run"


def _damage(run_dir, tmp_path, change):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    damaged = {**config, **change} if isinstance(change, dict) and change else change
    (folder / "config.json").write_text(json.dumps(damaged))
    return folder


@pytest.mark.parametrize("case", list(DAMAGED))
@pytest.mark.parametrize("command", ["train", "evaluate", "calibrate", "rl-compare"])
def test_damaged_config_is_one_line(case, command, run_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    change, needle = DAMAGED[case]
    folder = _damage(run_dir, tmp_path, change)
    before = (folder / "config.json").read_bytes()
    argv = {"train": ["train", *TINY, "--out", str(folder)],
            "evaluate": ["evaluate", "--checkpoint", str(folder), "--tasks", "1"],
            "calibrate": ["calibrate", "--checkpoint", str(folder), "--tasks", "1"],
            "rl-compare": ["rl-compare", "--benchmark", "bandit", "--checkpoint", str(folder), "--tasks", "1"]}[command]
    code, _, err = run_cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("metaopt: error:"), err
    assert "Traceback" not in err
    if command == "train" and case == "nested bad value":
        needle = "train differ"  # a resume compares the saved run with the one asked for: the train block differs
    if command != "rl-compare":  # rl-compare may refuse a supervised run first, also in one line
        assert needle in lines[0], lines[0]
    assert (folder / "config.json").read_bytes() == before  # nothing written over the damaged file
