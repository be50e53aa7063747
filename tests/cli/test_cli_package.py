"""The command line is one package with no import circles, and building its parser stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere (top level, in functions, under TYPE_CHECKING)."""
    files = {}
    for package in ("metaopt", "prompting", "search_spaces"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            files[name] = path
    graph = {}
    for name, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in files else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), list(graph[start])
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return False


def test_no_import_circles_through_the_cli_or_the_trainer():
    from metaopt.cli import COMMANDS

    graph = _imports()
    graph["metaopt.cli"] |= set(COMMANDS)  # imported by name (importlib) when the parser is built
    watched = [m for m in graph if m.startswith("metaopt.cli")] + ["metaopt.trainer", "metaopt.callbacks"]
    circles = [m for m in watched if _reaches(graph, m, m)]
    assert not circles, f"modules on an import circle: {circles}"


def test_every_command_lives_in_metaopt_cli():
    from metaopt.cli import COMMANDS

    stray = [p.relative_to(ROOT).as_posix() for pattern in ("metaopt/**/cli*.py", "prompting/**/cli*.py")
             for p in ROOT.glob(pattern)]
    assert stray == []
    assert all(m.startswith("metaopt.cli.") for m in COMMANDS)
    helpers = {"__init__", "_args", "_prompt_args", "prompt_tune", "prompt_dataset", "prompt_deploy"}
    assert {p.stem for p in (ROOT / "metaopt" / "cli").glob("*.py")} - helpers == {
        m.rsplit(".", 1)[1] for m in COMMANDS}


def test_help_lists_every_command_without_importing_torch():
    code = ("import sys\nfrom metaopt.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in ('torch', 'mlflow', 'optuna', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
    text = subprocess.run([sys.executable, "-m", "metaopt", "--help"], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout
    for command in ("list", "train", "evaluate", "tune", "rl-compare", "hyper", "report", "ui", "prompt", "calibrate"):
        assert command in text
