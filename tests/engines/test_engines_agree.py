"""The batched engine against the ``higher`` engine, meta-gradient for meta-gradient.

On fixed episodes every gradient learner takes one outer step on each engine, with the same seed
for any sampling; the gradients of every meta-parameter (initial weights, learned rates, curvature
matrices, LSTM weights, ...) must agree to 1e-10 relative in float64 and 1e-5 in float32. "Relative"
is to the largest entry of the reference gradient: BatchNorm makes a conv bias's gradient exactly
zero in theory, so entry-wise relative errors of its rounding noise say nothing.
"""

from __future__ import annotations

import pytest
import torch

from metaopt.algorithms import build_config, get_learner
from metaopt.models import MLP, Conv4
from metaopt.tasks.base import Task

GRADIENT_LEARNERS = ["maml", "fomaml", "anil", "metasgd", "mamlpp", "metacurvature", "taml", "abml", "metalstm",
                     "reptile"]


def sinusoid_tasks(n: int, dtype: torch.dtype, seed: int = 0) -> list[Task]:
    g = torch.Generator().manual_seed(seed)
    tasks = []
    for _ in range(n):
        x = (torch.rand(20, 1, generator=g) * 10 - 5).to(dtype)
        amplitude, phase = float(torch.rand(1, generator=g)) * 4.9 + 0.1, float(torch.rand(1, generator=g)) * 3.14
        y = amplitude * torch.sin(x - phase)
        tasks.append(Task(x[:10], y[:10], x[10:], y[10:], kind="regression"))
    return tasks


def image_tasks(n: int, ways: int, dtype: torch.dtype, shots: int = 1, queries: int = 2, seed: int = 0) -> list[Task]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(ways)
    return [
        Task(torch.rand(ways * shots, 1, 16, 16, generator=g).to(dtype), labels.repeat_interleave(shots),
             torch.rand(ways * queries, 1, 16, 16, generator=g).to(dtype), labels.repeat_interleave(queries),
             "classification", ways, shots)
        for _ in range(n)
    ]


def _learner(name: str, problem: str, dtype: torch.dtype, **config):
    cls = get_learner(name)
    cfg = build_config(name, config)
    torch.manual_seed(0)
    if problem == "sinusoid":
        model, kind = MLP(1, (16, 16), 1), "regression"
    else:
        model, kind = Conv4(1, int(problem.split("-")[1]), image_size=16, hidden=8, **cls.model_options(cfg)), \
            "classification"
    learner = cls(model, cfg, kind).to(dtype)
    learner.begin_training(100)
    return learner


def _tasks(problem: str, n: int, dtype: torch.dtype) -> list[Task]:
    if problem == "sinusoid":
        return sinusoid_tasks(n, dtype)
    return image_tasks(n, int(problem.split("-")[1]), dtype)


def meta_gradients(learner, tasks: list[Task], engine: str, iteration: int = 60) -> list[torch.Tensor]:
    """Every meta-parameter's gradient after one ``meta_step`` on ``engine`` (a zero-rate optimiser)."""
    learner.use_engine(engine)
    learner.zero_grad(set_to_none=True)
    torch.manual_seed(123)  # ABML samples weights: the same draws on both engines
    learner.meta_step(tasks, torch.optim.SGD(learner.parameters(), lr=0.0), iteration)
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in learner.parameters()]


def assert_engines_agree(learner, tasks: list[Task], rtol: float, iteration: int = 60) -> None:
    reference = meta_gradients(learner, tasks, "higher", iteration)
    batched = meta_gradients(learner, tasks, "batched", iteration)
    scale = max(float(g.abs().max()) for g in reference)
    assert scale > 0, "the reference meta-gradient is zero: the check would prove nothing"
    names = [n for n, _ in learner.named_parameters()]
    for name, ref, ours in zip(names, reference, batched, strict=True):
        error = float((ref - ours).abs().max()) / scale
        assert error <= rtol, f"{name}: relative difference {error:.2e} > {rtol:.0e}"


# The full grid for the learners whose rates are meta-learned tensors (MAML, Meta-SGD, MAML++).
@pytest.mark.parametrize("name", ["maml", "metasgd", "mamlpp"])
@pytest.mark.parametrize("problem", ["sinusoid", "conv-5", "conv-20"])
@pytest.mark.parametrize("meta_batch", [1, 4])
@pytest.mark.parametrize("steps", [1, 5])
def test_float64_grid(name, problem, meta_batch, steps):
    if problem == "conv-20" and steps == 5 and meta_batch == 4:
        pytest.skip("covered by the other conv-20 cases; the slowest corner of the grid")
    learner = _learner(name, problem, torch.float64, inner_steps=steps, inner_lr=0.1, first_order_fraction=0.0) \
        if name == "mamlpp" else _learner(name, problem, torch.float64, inner_steps=steps, inner_lr=0.1)
    assert_engines_agree(learner, _tasks(problem, meta_batch, torch.float64), 1e-10)


@pytest.mark.parametrize("name", GRADIENT_LEARNERS)
@pytest.mark.parametrize("problem", ["sinusoid", "conv-5"])
def test_every_gradient_learner_float64(name, problem):
    if problem == "sinusoid" and "regression" not in get_learner(name).kinds:
        pytest.skip(f"{name} does not regress")
    config = {"inner_steps": 2}
    if name == "metalstm":
        config["hidden_size"] = 4
    learner = _learner(name, problem, torch.float64, **config)
    assert_engines_agree(learner, _tasks(problem, 4, torch.float64), 1e-10)


@pytest.mark.parametrize("name", ["maml", "metasgd", "mamlpp", "metacurvature", "anil"])
def test_float32(name):
    learner = _learner(name, "conv-5", torch.float32, inner_steps=3)
    assert_engines_agree(learner, _tasks("conv-5", 4, torch.float32), 1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("problem", ["sinusoid", "conv-5"])
def test_every_inner_optimizer(optimizer, problem):
    learner = _learner("maml", problem, torch.float64, inner_steps=3, inner_lr=0.05, inner_optimizer=optimizer)
    assert_engines_agree(learner, _tasks(problem, 4, torch.float64), 1e-10)


@pytest.mark.parametrize("learned", [{"momentum": 0.5}, {"weight_decay": 0.01}])
def test_learned_inner_hyperparameters_get_the_same_meta_gradients(learned):
    from metaopt.hyper.inner import attach_inner_hyperparameters

    learner = _learner("maml", "sinusoid", torch.float64, inner_steps=3, inner_lr=0.05)
    hypers = attach_inner_hyperparameters(learner, **learned).to(torch.float64)
    assert_engines_agree(learner, _tasks("sinusoid", 4, torch.float64), 1e-10)
    meta_gradients(learner, _tasks("sinusoid", 4, torch.float64), "batched")
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in hypers.parameters())


@pytest.mark.parametrize("name", ["fomaml", "mamlpp"])
def test_first_order_steps_build_no_second_order_graph(name):
    # MAML++ is first-order for the first half of training (derivative-order annealing).
    learner = _learner(name, "conv-5", torch.float64, inner_steps=2)
    assert_engines_agree(learner, _tasks("conv-5", 4, torch.float64), 1e-10, iteration=10)
    task = _tasks("conv-5", 1, torch.float64)[0]
    learner.use_engine("batched")
    sizes = {}
    for first_order in (True, False):
        result = learner.adapt(task.support_x, task.support_y, 2, differentiable=True, first_order=first_order)
        adapted = next(result.module.parameters())
        assert adapted.grad_fn is not None  # the path to the initial weights (and rates) is kept
        sizes[first_order] = _count_nodes(adapted.grad_fn)
    # First order: (initial weight) - rate * (constant gradient) per step, a handful of nodes; second
    # order: the whole backward pass of the support loss, hundreds.
    assert sizes[True] * 10 < sizes[False], sizes


def _count_nodes(fn, seen=None) -> int:
    seen = set() if seen is None else seen
    if fn is None or fn in seen:
        return 0
    seen.add(fn)
    return 1 + sum(_count_nodes(next_fn, seen) for next_fn, _ in fn.next_functions)


def test_batched_scores_equal_one_by_one():
    learner = _learner("maml", "conv-5", torch.float64, inner_steps=3, inner_lr=0.4)
    tasks = _tasks("conv-5", 6, torch.float64)
    learner.use_engine("batched")
    with torch.no_grad():
        for p in learner.parameters():
            p.add_(0.05 * torch.randn_like(p))
    batched = learner.score_tasks(tasks)
    learner.use_engine("higher")
    assert batched == pytest.approx([learner.score(t) for t in tasks], abs=1e-12)


@pytest.mark.parametrize("name, config", [("reptile", {}), ("taml", {"regulariser": "theil"})])
def test_own_meta_steps_run_cpu_images_one_by_one(name, config, monkeypatch):
    """Reptile and TAML-Theil map their tasks in their own meta-steps. On a CPU, image tasks must run one
    by one there too (vmap's batched convolutions are the slow path there); forcing the GPU's vmap path
    gives the same meta-gradient."""
    from metaopt.engines.batched import BatchedEngine

    learner = _learner(name, "conv-5", torch.float64, inner_steps=2, inner_lr=0.1, **config)
    tasks = _tasks("conv-5", 4, torch.float64)
    vmapped_batches = []
    real = BatchedEngine.map_tasks

    def counting(self, fn, batch):
        vmapped_batches.append(len(batch))
        return real(self, fn, batch)

    monkeypatch.setattr(BatchedEngine, "map_tasks", counting)
    one_by_one = meta_gradients(learner, tasks, "batched")
    assert vmapped_batches == []
    monkeypatch.setattr(type(learner), "_batch", lambda self, batch, differentiable=True: True)
    at_once = meta_gradients(learner, tasks, "batched")
    assert vmapped_batches and set(vmapped_batches) == {4}
    scale = max(float(g.abs().max()) for g in one_by_one)
    assert scale > 0
    for ours, theirs in zip(one_by_one, at_once, strict=True):
        assert float((ours - theirs).abs().max()) / scale <= 1e-10
