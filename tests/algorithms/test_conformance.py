"""Every registered algorithm goes through the same checks (the registry is the list under test)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from metaopt.algorithms import available_learners, build_config, get_learner
from metaopt.callbacks import Callback
from metaopt.errors import ConfigError
from metaopt.models import default_model
from metaopt.runs import RunConfig, build_run
from metaopt.trainer import MetaTrainer, TrainConfig

LEARNERS = available_learners()


def _engine_cases(names: list[str]) -> list:
    """Learners with an inner loop run on both engines; the others once (the engine does not apply)."""
    return [pytest.param(n, e, id=f"{n}-{e}") for n in names
            for e in (("batched", "higher") if hasattr(get_learner(n), "adapt") else ("auto",))]


FMNIST = Path("/usr/share/datasets/fashion-mnist")


class _Interrupt(Exception):
    pass


class _InterruptAt(Callback):
    """Kills training right after the checkpoint at ``iteration``, as a crash would."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_validation_end(self, trainer, iteration, result) -> None:
        if iteration == self.iteration:
            raise _Interrupt


def _small_run(name: str, iterations: int, seed: int = 0, **train):
    """Sinusoids for learners that regress; 3-armed bandits for RL; 3-way 1-shot Fashion-MNIST for classifiers."""
    train = {"iterations": iterations, "meta_batch": 8, "val_every": iterations, "val_tasks": 40, "seed": seed,
             **train}
    if "regression" in get_learner(name).kinds:
        return build_run(RunConfig(name, "sinusoid", shots=10, queries=10, train=train))
    if "rl" in get_learner(name).kinds:  # RL learners take the same checks on short 3-armed bandits
        return build_run(RunConfig(name, "bandit", ways=3, shots=10, train=train))
    if not FMNIST.is_dir():
        pytest.skip("classifier-only learner needs dataset-fashion-mnist (scripts/setup.sh installs it)")
    return build_run(RunConfig(name, "fashion-mnist", ways=3, shots=1, queries=2, train=train))


def _regression_learners() -> list[str]:
    return [n for n in LEARNERS if "regression" in get_learner(n).kinds]


@pytest.mark.parametrize("name,engine", _engine_cases(_regression_learners()))
def test_learns_sinusoids(name, engine):
    run = _small_run(name, 150, engine=engine)
    trainer = run.trainer(progress=False)
    before = trainer.evaluate("val", 40).mean
    trainer.fit()
    after = trainer.evaluate("val", 40).mean
    assert after < 0.8 * before, f"{name}: validation MSE {before:.3f} -> {after:.3f}"


# ANIL adapts only a linear head on features that start random, so it needs the Omniglot-scale
# inner rate of the MAML paper (0.4) to move at all in a few iterations; the rest use their defaults.
# The meta-LSTM runs a 20-unit LSTM over each of Conv4's 112k weights per step: 2 steps and 4 units keep
# this test near 15 s instead of minutes.
CLASSIFICATION_CONFIG = {"anil": {"inner_lr": 0.4}, "metalstm": {"inner_steps": 2, "hidden_size": 4}}
# SNAIL learns its matching from scratch: its query loss is still flat at 20 iterations, so it gets 60.
CLASSIFICATION_ITERATIONS = {"snail": 60}


def _mean_query_loss(learner, tasks) -> float:
    learner.eval()
    losses = [float(learner.loss(learner.predict(task), task.query_y)) for task in tasks]
    learner.train()
    return sum(losses) / len(losses)


@pytest.mark.parametrize("name,engine", _engine_cases(LEARNERS))
def test_learns_on_easy_classification(name, engine, class_sources):
    cls = get_learner(name)
    if "classification" not in cls.kinds:
        pytest.skip(f"{name} does not classify")
    config = build_config(name, CLASSIFICATION_CONFIG.get(name))
    torch.manual_seed(0)
    model = default_model((1, 16, 16), 2, **cls.model_options(config))
    learner = cls(model, config, "classification")
    iterations = CLASSIFICATION_ITERATIONS.get(name, 20)
    trainer = MetaTrainer(learner, class_sources, TrainConfig(iterations=iterations, meta_batch=4, engine=engine,
                                                              val_every=iterations, val_tasks=10), progress=False)
    tasks = class_sources["val"].fixed_tasks(30, 1)
    before = _mean_query_loss(learner, tasks)
    trainer.fit()
    after = _mean_query_loss(learner, tasks)
    assert after < 0.8 * before, f"{name}: query loss after adaptation {before:.3f} -> {after:.3f}"


@pytest.mark.parametrize("name,engine", _engine_cases(LEARNERS))
def test_deterministic_under_seed(name, engine):
    states = []
    for _ in range(2):
        run = _small_run(name, 3, seed=7, engine=engine)
        run.trainer(progress=False).fit()
        states.append(run.learner.state_dict())
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    other = _small_run(name, 3, seed=8, engine=engine)
    other.trainer(progress=False).fit()
    assert any(not torch.equal(states[0][k], other.learner.state_dict()[k]) for k in states[0])


@pytest.mark.parametrize("name,engine", _engine_cases(LEARNERS))
def test_survives_checkpoint_and_resumes_exactly(name, engine, tmp_path):
    straight = _small_run(name, 6, val_every=3, engine=engine)
    straight.trainer(progress=False).fit()

    first = _small_run(name, 6, val_every=3, engine=engine)
    with pytest.raises(_Interrupt):
        first.trainer(tmp_path, progress=False, callbacks=[_InterruptAt(3)]).fit()
    resumed = _small_run(name, 6, val_every=3, engine=engine)
    resumed.trainer(tmp_path, progress=False).fit()
    for key, value in straight.learner.state_dict().items():
        assert torch.equal(value, resumed.learner.state_dict()[key]), key

    from metaopt.runs import load_run, save_run_config

    save_run_config(tmp_path, resumed.config)
    loaded = load_run(tmp_path, best=False)
    task = resumed.sources["test"].fixed_tasks(1, 0)[0]
    assert torch.equal(loaded.learner.predict(task), resumed.learner.predict(task))


@pytest.mark.parametrize("name", LEARNERS)
@pytest.mark.parametrize(
    "bad",
    [{"inner_lr": -1.0}, {"inner_steps": 0}, {"inner_optimizer": "lbfgs"}, {"no_such_knob": 1}],
)
def test_rejects_bad_config(name, bad):
    fields = {f for f in get_learner(name).Config.__dataclass_fields__}
    key = next(iter(bad))
    if key != "no_such_knob" and key not in fields:
        pytest.skip(f"{name} has no {key}")
    with pytest.raises(ConfigError, match=key):
        build_config(name, bad)


@pytest.mark.parametrize("name", LEARNERS)
def test_the_class_says_whether_it_has_an_inner_loop(name):
    """``has_inner_loop`` is what a run checks before it builds any data; it must match what the learner makes."""
    run = _small_run(name, 1)
    assert get_learner(name).has_inner_loop == (run.learner.inner_loop is not None)


@pytest.mark.parametrize("name", [n for n in LEARNERS if not get_learner(n).has_inner_loop])
@pytest.mark.parametrize("option", ["compile", "inner_checkpoint"])
def test_inner_loop_options_are_refused_before_any_data_is_built(name, option, monkeypatch):
    """glyphs renders its fonts on first use (minutes): a learner that cannot take the option says so first."""
    from metaopt.tasks.benchmarks import Benchmark

    def no_data(*args, **kwargs):
        raise AssertionError("data was built before the options were checked")

    monkeypatch.setattr(Benchmark, "data", no_data)
    monkeypatch.setattr(Benchmark, "sources", no_data)
    kind = sorted(get_learner(name).kinds)[0]
    benchmark = {"classification": "glyphs", "regression": "sinusoid", "rl": "bandit"}[kind]
    flag = "--" + option.replace("_", "-")
    with pytest.raises(ConfigError, match=f"{name} has no inner loop; {flag} does not apply"):
        build_run(RunConfig(name, benchmark, train={option: True}))
