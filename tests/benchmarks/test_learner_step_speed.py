"""The per-learner step benchmark times what it names: both engines' meta-steps on the same episodes, and it
builds every learner of the glyph table with that table's settings."""

from __future__ import annotations

BENCHMARK = "learner_step_speed"  # loaded by the `bench` fixture (conftest.py)


def test_every_learner_is_built_on_the_engine_it_names(bench):
    for name in bench.LEARNERS:
        for engine in bench.ENGINES:
            learner, _ = bench.learner_for(name, 5, engine)
            assert learner.inner_loop.engine.name == engine
            if name != "mamlpp":
                assert learner.config.inner_steps == 5 and learner.config.inner_lr == 0.1


def test_times_both_engines(bench, monkeypatch):
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


def test_probe_freezes_only_what_the_inner_loop_does_not_adapt(bench):
    learner, _ = bench.learner_for("mamlpp", 5, bench.PROBE)
    adapted = {id(p) for p in learner.inner_loop.params}
    frozen = [p for p in learner.parameters() if not p.requires_grad]
    assert learner.inner_loop.engine.name == "higher"
    assert frozen and all(id(p) not in adapted for p in frozen)
    assert all(p.requires_grad for p in learner.inner_loop.params)
    assert all(rates.requires_grad for rates in learner.lslr)  # the learned rates still learn
    plain, _ = bench.learner_for("maml", 5, bench.PROBE)
    assert all(p.requires_grad for p in plain.parameters())  # MAML adapts every tensor: nothing to freeze


def test_times_the_probe_as_a_third_side(bench):
    times = bench.time_learner("mamlpp", 5, 1, reps=1, warmup=0, engines=bench.ENGINES + (bench.PROBE,))
    assert sorted(times) == ["batched", "higher", "higher-frozen"] and all(t > 0 for t in times.values())
