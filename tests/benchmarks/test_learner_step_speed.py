"""The per-learner step benchmark times what it names: both engines' meta-steps on the same episodes, and it
builds every learner of the glyph table with that table's settings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "learner_step_speed.py"


def _bench():
    spec = importlib.util.spec_from_file_location("learner_step_speed", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_learner_is_built_on_the_engine_it_names():
    bench = _bench()
    for name in bench.LEARNERS:
        for engine in bench.ENGINES:
            learner, _ = bench.learner_for(name, 5, engine)
            assert learner.inner_loop.engine.name == engine
            if name != "mamlpp":
                assert learner.config.inner_steps == 5 and learner.config.inner_lr == 0.1


def test_times_both_engines(monkeypatch):
    bench = _bench()
    steps = []
    real = bench.learner_for

    def counting(name, ways, engine):
        learner, opt = real(name, ways, engine)
        step = learner.meta_step
        learner.meta_step = lambda *a: steps.append(engine) or step(*a)
        return learner, opt

    monkeypatch.setattr(bench, "learner_for", counting)
    times = bench.time_learner("reptile", 5, 2, reps=2, warmup=1)
    assert sorted(times) == ["batched", "higher"] and all(t > 0 for t in times.values())
    assert steps.count("batched") == steps.count("higher") == 3
