"""The console entry (`python -m metaopt`, the `metaopt` script): it exits promptly after its last output."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_console_script_is_the_prompt_exit_entry():
    # a line of [project.scripts] (tomllib is not in Python 3.10, which the project supports)
    assert 'metaopt = "metaopt.__main__:console_main"' in (ROOT / "pyproject.toml").read_text().splitlines()


def test_objects_are_hidden_from_the_exit_collector():
    """The interpreter's last garbage collection skips what the command created; atexit still runs."""
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, 'enabled', gc.isenabled()))\n"
            "sys.argv = ['metaopt', 'list', 'algorithms']\n"
            "from metaopt.__main__ import console_main\n"
            "console_main()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "frozen True enabled False"
    assert "maml" in proc.stdout


def test_a_short_command_exits_within_seconds_of_its_last_line(tmp_path):
    """`metaopt train` imports torch and more; before the fix a finished command lingered 5-11 s on a busy
    2-core machine while the interpreter collected garbage at exit."""
    command = [sys.executable, "-m", "metaopt", "train", "--algorithm", "maml", "--benchmark", "sinusoid",
               "--iterations", "2", "--meta-batch", "2", "--val-every", "1", "--val-tasks", "2", "--test-tasks", "2",
               "--out", str(tmp_path / "run"), "--no-progress", "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    last = time.monotonic()
    lines = []
    for line in proc.stdout:
        last = time.monotonic()
        lines.append(line)
    code = proc.wait(timeout=300)
    gap = time.monotonic() - last
    assert code == 0, "".join(lines)
    assert lines and lines[-1].startswith("{")
    assert gap < 3.0, f"exited {gap:.1f} s after its last line"
