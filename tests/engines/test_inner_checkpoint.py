"""Checkpointed inner loops (``--inner-checkpoint``): the same meta-gradients, far less graph, exact resumes.

A checkpointed step recomputes itself in the backward pass, so the meta-gradient must equal the
un-checkpointed one (float64, 1e-10 relative to the largest entry) for every learner that allows it,
and a tensor a step reads without declaring it must be refused, never given a silent zero gradient.
"""

from __future__ import annotations

import json

import pytest
import torch
from test_engine_runs import _Stop, _StopAt
from test_engines_agree import _count_nodes, _learner, _tasks
from torch import nn

from metaopt.algorithms import available_learners, build_config, get_learner
from metaopt.cli import main
from metaopt.errors import ConfigError
from metaopt.inner_loop import InnerLoop
from metaopt.runs import RunConfig, build_run, normalized
from metaopt.trainer import TrainConfig


def meta_gradients(learner, tasks, checkpoint: bool, iteration: int = 60) -> list[torch.Tensor]:
    """Every meta-parameter's gradient after one meta-step on the batched engine, checkpointed or not."""
    learner.use_engine("batched")
    learner.use_inner_checkpoint(checkpoint)
    learner.zero_grad(set_to_none=True)
    torch.manual_seed(123)  # ABML samples weights: the same draws both times
    learner.meta_step(tasks, torch.optim.SGD(learner.parameters(), lr=0.0), iteration)
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in learner.parameters()]


def assert_checkpointing_agrees(learner, tasks, rtol: float = 1e-10) -> None:
    reference = meta_gradients(learner, tasks, checkpoint=False)
    checkpointed = meta_gradients(learner, tasks, checkpoint=True)
    scale = max(float(g.abs().max()) for g in reference)
    assert scale > 0, "the reference meta-gradient is zero: the check would prove nothing"
    for (name, _), ref, ours in zip(learner.named_parameters(), reference, checkpointed, strict=True):
        assert float(ref.abs().max()) == 0 or float(ours.abs().max()) > 0, f"{name} lost its meta-gradient"
        error = float((ref - ours).abs().max()) / scale
        assert error <= rtol, f"{name}: relative difference {error:.2e} > {rtol:.0e}"


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("problem", ["sinusoid", "conv-5"])
def test_maml_every_inner_optimizer(optimizer, problem):
    learner = _learner("maml", problem, torch.float64, inner_steps=4, inner_lr=0.05, inner_optimizer=optimizer)
    assert_checkpointing_agrees(learner, _tasks(problem, 2, torch.float64))


@pytest.mark.parametrize("name", ["metasgd", "mamlpp", "anil", "metacurvature", "taml", "abml"])
@pytest.mark.parametrize("problem", ["sinusoid", "conv-5"])
def test_variants(name, problem):
    # metasgd: per-element learned rates; mamlpp: per-step rates (LSLR), multi-step loss and per-step
    # BatchNorm on Conv4, second order from the start; anil: support features from the body, declared;
    # metacurvature: the transform's matrices, declared; abml: weight samples replayed in the recomputation.
    if problem == "sinusoid" and "regression" not in get_learner(name).kinds:
        pytest.skip(f"{name} does not regress")
    extra = {"first_order_fraction": 0.0} if name == "mamlpp" else {}
    learner = _learner(name, problem, torch.float64, inner_steps=3, inner_lr=0.1, **extra)
    assert_checkpointing_agrees(learner, _tasks(problem, 2, torch.float64))


def test_learned_inner_hyperparameters_keep_their_meta_gradients():
    from metaopt.hyper.inner import attach_inner_hyperparameters

    learner = _learner("maml", "sinusoid", torch.float64, inner_steps=3, inner_lr=0.05)
    attach_inner_hyperparameters(learner, momentum=0.5, weight_decay=0.01).to(torch.float64)
    assert_checkpointing_agrees(learner, _tasks("sinusoid", 2, torch.float64))


def test_every_learner_with_an_inner_loop_agrees_or_refuses_in_one_line():
    """A learner added later that reads an undeclared tensor fails here (or is refused), never differs."""
    checked = []
    for name in available_learners():
        cls = get_learner(name)
        if cls.kinds & {"classification", "regression"} == set():
            continue
        problem = "sinusoid" if "regression" in cls.kinds else "conv-5"
        config = {"inner_steps": 2, **({"hidden_size": 4} if name == "metalstm" else {})}
        config = {k: v for k, v in config.items() if k in build_config(name).to_dict()}
        learner = _learner(name, problem, torch.float64, **config)
        if learner.inner_loop is None:
            with pytest.raises(ConfigError, match="no inner loop") as info:
                learner.use_inner_checkpoint(True)
            assert "\n" not in str(info.value)
            continue
        if learner.first_order_inner or getattr(learner.config, "first_order", False):
            continue  # nothing is checkpointed (the note says so)
        assert_checkpointing_agrees(learner, _tasks(problem, 2, torch.float64))
        checked.append(name)
    assert {"maml", "anil", "metasgd", "mamlpp", "metacurvature", "taml", "abml"} <= set(checked), checked


def test_checkpointing_keeps_only_the_steps_inputs():
    learner = _learner("maml", "conv-5", torch.float64, inner_steps=4)
    task = _tasks("conv-5", 1, torch.float64)[0]
    learner.use_engine("batched")
    sizes = {}
    for checkpoint in (False, True):
        learner.use_inner_checkpoint(checkpoint)
        result = learner.adapt(task.support_x, task.support_y, 4, differentiable=True)
        sizes[checkpoint] = _count_nodes(next(result.module.parameters()).grad_fn)
    # Without: each step's forward and inner backward, hundreds of nodes; with: one node per step (plus
    # the initial weights' accumulators), whatever the network computes inside a step.
    assert sizes[True] * 10 < sizes[False], sizes


def _body_and_head():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(3, 8), nn.Tanh()).double()
    head = nn.Linear(8, 1).double()
    x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
    return body, head, x, y


def _body_gradient(checkpoint: bool, declare: bool) -> torch.Tensor:
    body, head, x, y = _body_and_head()
    loop = InnerLoop(head, engine="batched", checkpoint=checkpoint)
    features = body(x)  # computed once outside the loop, as ANIL does: the body's gradient runs through it
    result = loop.adapt(lambda f, s: ((f(features) - y) ** 2).mean(), 3, 0.1,
                        inputs=[features] if declare else ())
    ((result.module(features) - y) ** 2).mean().backward()
    return body[0].weight.grad


def test_an_undeclared_captured_tensor_is_refused_not_dropped():
    reference = _body_gradient(checkpoint=False, declare=False)
    assert float(reference.abs().max()) > 0
    torch.testing.assert_close(_body_gradient(checkpoint=True, declare=True), reference, rtol=1e-10, atol=0)
    with pytest.raises(ConfigError, match="not handed to InnerLoop.adapt") as info:
        _body_gradient(checkpoint=True, declare=False)
    assert "\n" not in str(info.value)
    body, head, x, y = _body_and_head()
    with pytest.raises(ConfigError, match="runs on the batched engine"):
        InnerLoop(head, engine="higher", checkpoint=True).adapt(lambda f, s: f(x).sum(), 1, 0.1)


def test_a_learner_that_cannot_is_refused_in_one_line():
    rl = get_learner("maml-rl")
    assert rl.checkpoint_reason
    learner = _learner("maml", "sinusoid", torch.float64)
    learner.use_engine("higher")
    with pytest.raises(ConfigError, match="not higher"):
        learner.use_inner_checkpoint(True)
    with pytest.raises(ConfigError, match="not higher"):
        TrainConfig(engine="higher", inner_checkpoint=True).validate()
    fomaml = _learner("fomaml", "sinusoid", torch.float64)
    fomaml.use_engine("batched")
    assert "saves nothing" in fomaml.use_inner_checkpoint(True)


def _run(checkpoint: bool, iterations: int = 12):
    train = {"iterations": iterations, "meta_batch": 3, "val_every": 4, "val_tasks": 10, "inner_checkpoint": checkpoint}
    return build_run(RunConfig("maml", "sinusoid", shots=5, queries=10, learner={"inner_steps": 3}, train=train))


@pytest.mark.parametrize("first,second", [(True, False), (False, True)])
def test_a_checkpointed_run_resumes_unchecked_and_back(first, second, tmp_path):
    assert normalized(_run(True).config) == normalized(_run(False).config)  # not part of the run's identity
    straight = _run(second)
    straight.trainer(progress=False).fit()
    with pytest.raises(_Stop):
        _run(first).trainer(tmp_path, progress=False, callbacks=[_StopAt(4)]).fit()
    resumed = _run(second).trainer(tmp_path, progress=False)
    assert resumed.inner_checkpoint is second and (not second or "recomputes" in resumed.engine_note)
    resumed.fit()
    assert resumed.state.iteration == 12
    for key, value in straight.learner.state_dict().items():
        torch.testing.assert_close(resumed.learner.state_dict()[key], value, rtol=1e-4, atol=1e-6)


def train_args(out) -> list[str]:
    """A short MAML sinusoid run from the command line, with --json (the CLI tests of inner-loop options)."""
    return ["train", "--algorithm", "maml", "--benchmark", "sinusoid", "--shots", "5", "--iterations", "4",
            "--meta-batch", "2", "--val-every", "2", "--val-tasks", "5", "--test-tasks", "8", "--no-progress",
            "--out", str(out), "--json"]


def test_cli_records_it_and_resumes_without_it(tmp_path, capsys):
    out = tmp_path / "run"
    args = train_args(out)
    assert main([*args, "--inner-checkpoint"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["inner_checkpoint"] is True
    assert "one after another" in captured.err
    assert main(args) == 0  # the same run: it resumes (here: is already finished)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["inner_checkpoint"] is False and summary["resumed"] is True
    assert main(["evaluate", "--checkpoint", str(out), "--tasks", "5", "--inner-checkpoint", "--json",
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["inner_checkpoint"] is True
    # Not inherited from the run: evaluating a checkpointed run on the reference engine just works.
    assert main([*args[:-1], "--inner-checkpoint"]) == 0  # the saved run now says inner_checkpoint: true
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(out), "--tasks", "5", "--engine", "higher", "--json",
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["inner_checkpoint"] is False


def test_differentiating_the_meta_gradient_again_is_refused():
    # The recomputation starts from detached copies, so a third-order term would be wrong: it must fail.
    learner = _learner("maml", "sinusoid", torch.float64, inner_steps=2)
    learner.use_engine("batched")
    learner.use_inner_checkpoint(True)
    loss = learner.meta_loss(_tasks("sinusoid", 1, torch.float64)[0], 0)
    grads = torch.autograd.grad(loss, list(learner.parameters()), create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        sum(g.sum() for g in grads).backward()


def test_tune_checkpoints_the_trials_whose_learner_can():
    from types import SimpleNamespace

    from metaopt.tuning._config import TuneConfig

    cfg = TuneConfig("sinusoid", trials=1, inner_checkpoint=True)
    assert cfg.checkpoint_for(_learner("maml", "sinusoid", torch.float64))
    assert not cfg.checkpoint_for(_learner("protonet", "conv-5", torch.float64))  # no inner loop
    assert not cfg.checkpoint_for(SimpleNamespace(inner_loop=object(), checkpoint_reason="samples environments"))
    assert not TuneConfig("sinusoid", trials=1).checkpoint_for(_learner("maml", "sinusoid", torch.float64))
    with pytest.raises(ConfigError, match="not higher"):
        TuneConfig("sinusoid", trials=1, engine="higher", inner_checkpoint=True, objectives=["mse"]).validate()


def test_the_recomputation_has_no_side_effects_on_buffers():
    # A BatchNorm that keeps running statistics updates them in every forward; the backward pass's
    # recomputation of each step must not update them a second time.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1)).double()
    x, y = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 1, dtype=torch.float64)
    result = InnerLoop(model, engine="batched", checkpoint=True).adapt(lambda f, s: ((f(x) - y) ** 2).mean(), 3, 0.1)
    loss = ((result.module(x) - y) ** 2).mean()
    before = [b.clone() for b in model.buffers()]
    assert float(before[0].abs().max()) > 0  # the forward passes did update them
    loss.backward()
    for buffer, value in zip(model.buffers(), before):
        torch.testing.assert_close(buffer, value, rtol=0, atol=0)
