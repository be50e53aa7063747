"""Engines in whole runs: a checkpoint of one resumes on the other, and training curves agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from metaopt.callbacks import Callback
from metaopt.cli import main
from metaopt.errors import ConfigError
from metaopt.runs import RunConfig, build_run
from metaopt.trainer import TrainConfig


class _Stop(Exception):
    pass


class _StopAt(Callback):
    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_validation_end(self, trainer, iteration, result) -> None:
        if iteration == self.iteration:
            raise _Stop


def _run(engine: str, iterations: int = 40):
    train = {"iterations": iterations, "meta_batch": 5, "val_every": 10, "val_tasks": 20, "engine": engine}
    return build_run(RunConfig("maml", "sinusoid", shots=5, queries=10, train=train))


def test_training_curves_agree_across_engines():
    curves = {}
    for engine in ("higher", "batched"):
        run = _run(engine)
        trainer = run.trainer(progress=False)
        assert trainer.engine == engine
        trainer.fit()
        curves[engine] = [h["val"] for h in trainer.state.history]
    assert len(curves["higher"]) == 4
    # float32 rounding differs between the engines and compounds over 40 Adam steps; float noise only
    assert curves["batched"] == pytest.approx(curves["higher"], rel=1e-3)


@pytest.mark.parametrize("first,second", [("higher", "batched"), ("batched", "higher")])
def test_a_checkpoint_of_one_engine_resumes_on_the_other(first, second, tmp_path):
    straight = _run(second, 20)
    straight.trainer(progress=False).fit()
    with pytest.raises(_Stop):
        _run(first, 20).trainer(tmp_path, progress=False, callbacks=[_StopAt(10)]).fit()
    resumed = _run(second, 20).trainer(tmp_path, progress=False)
    resumed.fit()
    assert resumed.state.iteration == 20
    for key, value in straight.learner.state_dict().items():
        torch.testing.assert_close(resumed.learner.state_dict()[key], value, rtol=1e-4, atol=1e-6)


def test_engine_is_validated_and_applies_only_with_an_inner_loop():
    with pytest.raises(ConfigError, match="unknown engine 'fast'"):
        TrainConfig(engine="fast").validate()
    if Path("/usr/share/datasets/fashion-mnist").is_dir():  # scripts/setup.sh installs it
        run = build_run(RunConfig("protonet", "fashion-mnist", ways=3, shots=1, queries=2,
                                  train={"iterations": 1, "engine": "batched"}))
        trainer = run.trainer(progress=False)
        assert trainer.engine == "none" and "no inner loop" in trainer.engine_note
    abml = build_run(RunConfig("abml", "sinusoid", shots=5, train={"iterations": 1}))
    trainer = abml.trainer(progress=False)
    assert trainer.engine == "batched" and "one after another" in trainer.engine_note


def test_cli_records_the_engine_and_resumes_on_the_other(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5", "--iterations", "4",
            "--meta-batch", "3", "--val-every", "2", "--val-tasks", "5", "--test-tasks", "8", "--no-progress",
            "--out", str(out), "--json"]
    assert main([*args, "--engine", "higher"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["engine"] == "higher"
    # same run, other engine: not "a different run", it resumes (here: is already finished)
    assert main([*args, "--engine", "batched"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["engine"] == "batched" and summary["resumed"] is True
    assert main(["evaluate", "--checkpoint", str(out), "--tasks", "5", "--engine", "higher", "--json",
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["engine"] == "higher"
