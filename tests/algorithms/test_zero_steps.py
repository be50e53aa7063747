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
