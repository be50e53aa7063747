"""``--compile``: the vmapped meta-batch under ``torch.compile`` gives the eager meta-gradient, and says where it
compiles nothing.

Compiling costs tens of seconds per learner on a CPU, so these tests compile few learners: the sinusoid MLP (the
path that batches on a CPU) for MAML, Meta-SGD's learned rates and MAML++'s per-step rates and multi-step loss,
and one Conv4 with per-step BatchNorm forced through vmap as a GPU runs it.
"""

from __future__ import annotations

import json

import pytest
import torch
from test_engines_agree import _learner, _tasks
from test_inner_checkpoint import train_args

from metaopt.algorithms import get_learner
from metaopt.cli import main
from metaopt.errors import ConfigError
from metaopt.runs import RunConfig, build_run, normalized
from metaopt.trainer import TrainConfig

pytestmark = pytest.mark.slow


def meta_gradients(learner, tasks, compiled: bool) -> list[torch.Tensor]:
    learner.use_engine("batched")
    learner.use_compile(compiled)
    learner.zero_grad(set_to_none=True)
    learner.meta_step(tasks, torch.optim.SGD(learner.parameters(), lr=0.0), 60)
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in learner.parameters()]


def assert_compiled_agrees(learner, tasks, rtol: float = 1e-10) -> None:
    eager = meta_gradients(learner, tasks, compiled=False)
    frames = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    compiled = meta_gradients(learner, tasks, compiled=True)
    # A silent fall-back to eager would pass the comparison trivially: a new graph must have been compiled.
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > frames, "nothing was compiled"
    scale = max(float(g.abs().max()) for g in eager)
    assert scale > 0
    for (name, _), ref, ours in zip(learner.named_parameters(), eager, compiled, strict=True):
        assert float(ref.abs().max()) == 0 or float(ours.abs().max()) > 0, f"{name} lost its meta-gradient"
        error = float((ref - ours).abs().max()) / scale
        assert error <= rtol, f"{name}: relative difference {error:.2e} > {rtol:.0e}"


@pytest.mark.parametrize("name", ["maml", "metasgd", "mamlpp"])
def test_compiled_sinusoid_meta_gradients_equal_eager(name):
    learner = _learner(name, "sinusoid", torch.float64, inner_steps=2)
    tasks = _tasks("sinusoid", 4, torch.float64)
    learner.use_engine("batched")
    assert learner._batch(tasks)  # the vmapped path, which is what gets compiled
    assert_compiled_agrees(learner, tasks)


def test_compiled_conv4_with_per_step_batch_norm_under_vmap(monkeypatch):
    learner = _learner("mamlpp", "conv-5", torch.float64, inner_steps=2)
    # Images on a CPU run one by one; on a GPU they batch. Force the GPU's path: vmap plus compile.
    monkeypatch.setattr(type(learner), "_batch", lambda self, tasks, differentiable=True: True)
    assert_compiled_agrees(learner, _tasks("conv-5", 2, torch.float64))


def test_where_it_cannot_apply_it_is_refused_in_one_line_and_where_it_compiles_nothing_it_says_so():
    learner = _learner("maml", "sinusoid", torch.float64)
    learner.use_engine("higher")
    with pytest.raises(ConfigError, match="not higher"):
        learner.use_compile(True)
    with pytest.raises(ConfigError, match="not higher"):
        TrainConfig(engine="higher", compile=True).validate()
    learner.use_engine("batched")
    learner.use_inner_checkpoint(True)
    with pytest.raises(ConfigError, match="do not combine"):
        learner.use_compile(True)
    protonet = get_learner("protonet")
    with pytest.raises(ConfigError, match="no inner loop"):
        _learner_without_loop(protonet).use_compile(True)
    reptile = _learner("reptile", "sinusoid", torch.float64)
    reptile.use_engine("batched")
    assert "compiles nothing" in reptile.use_compile(True) and reptile._compiled_meta_loss is None
    abml = _learner("abml", "sinusoid", torch.float64)
    abml.use_engine("batched")
    assert "compiles nothing" in abml.use_compile(True)


def _learner_without_loop(cls):
    from metaopt.algorithms import build_config
    from metaopt.models import MLP

    return cls(MLP(1, (8,), 4), build_config(cls.name, {}), "classification")


def test_a_compiled_run_resumes_uncompiled_and_the_cli_records_it(tmp_path, capsys):
    train = {"iterations": 4, "meta_batch": 2, "val_every": 2, "val_tasks": 5, "compile": True}
    run = RunConfig("maml", "sinusoid", shots=5, queries=10, train=train)
    assert normalized(build_run(run).config) == normalized(build_run(RunConfig(
        "maml", "sinusoid", shots=5, queries=10, train={**train, "compile": False})).config)
    out = tmp_path / "run"
    args = train_args(out)
    assert main([*args, "--compile"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["compile"] is True
    assert "--compile compiles the vmapped meta-batch" in captured.err
    assert main(args) == 0  # the same run, resumed (here: already finished) without compiling
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["compile"] is False and summary["resumed"] is True
