"""``metaopt calibrate`` on real saved runs: JSON on the last line; a regression run is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metaopt.cli import main

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def _train(args: list[str]) -> None:
    assert main(["train", *args, "--iterations", "2", "--meta-batch", "2", "--val-every", "2", "--val-tasks", "4",
                 "--test-tasks", "4", "--no-progress"]) == 0


@pytest.mark.skipif(not FMNIST.is_dir(), reason="needs dataset-fashion-mnist (scripts/setup.sh installs it)")
def test_calibrate_reports_accuracy_and_ece(tmp_path, capsys):
    out = tmp_path / "abml"
    _train(["--algorithm", "abml", "--benchmark", "fashion-mnist", "--ways", "3", "--shots", "1", "--queries", "3",
            "--inner-lr", "0.4", "--out", str(out)])
    capsys.readouterr()
    assert main(["calibrate", "--checkpoint", str(out), "--tasks", "5", "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["results"][str(out)]
    assert result["algorithm"] == "abml" and 0 <= result["ece"] <= 1 and 0 <= result["accuracy"] <= 1


def test_calibrate_refuses_regression_runs(tmp_path, capsys):
    out = tmp_path / "maml"
    _train(["--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5", "--out", str(out)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--checkpoint", str(out), "--tasks", "3", "--no-progress"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exc.value.code == 2 and len(err) == 1 and "classification" in err[0]
