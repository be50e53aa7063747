"""``steps=0`` (``metaopt evaluate --steps 0``) scores the meta-learned start itself, with no adaptation."""

from __future__ import annotations

import pytest
import torch

from metaopt.runs import RunConfig, build_run


@pytest.mark.parametrize("name", ["maml", "fomaml", "metasgd", "reptile", "metacurvature"])
@pytest.mark.parametrize("engine", ["batched", "higher"])
def test_zero_steps_predicts_with_the_unadapted_model(name, engine):
    run = build_run(RunConfig(name, "sinusoid", shots=5, queries=5, train={"engine": engine},
                              learner={"inner_lr": 0.05}))
    learner = run.trainer(progress=False).learner
    task = run.sources["val"].fixed_tasks(1, seed=0)[0]
    with torch.no_grad():
        start = learner.model(task.query_x)
    assert torch.equal(learner.predict(task, 0), start)
    assert not torch.allclose(learner.predict(task, 1), start)  # one step does move it: the 0 is not ignored


def test_cli_evaluate_takes_zero_steps(tmp_path, capsys):
    import json

    from metaopt.testing import run_cli

    out = str(tmp_path / "run")
    code, _, err = run_cli(["train", "--shots", "5", "--iterations", "2", "--meta-batch", "2", "--val-every", "2",
                            "--val-tasks", "2", "--test-tasks", "2", "--out", out, "--no-progress"], capsys)
    assert code == 0, err
    results = {}
    for steps in ("0", "1"):
        code, stdout, err = run_cli(["evaluate", "--checkpoint", out, "--steps", steps, "--tasks", "20",
                                     "--no-progress", "--json"], capsys)
        assert code == 0, err
        results[steps] = json.loads(stdout.strip().splitlines()[-1])
    assert results["0"]["steps"] == 0 and results["0"]["mean"] != results["1"]["mean"]
