"""Each gradient learner's meta-step on the batched engine against the `higher` engine, interleaved in one process.

The glyph runs' 50-iteration timing pairs (docs/scripts/issue12_cpu.sh) time whole training runs one after the
other beside other jobs; this times the meta-step alone, both engines taking turns on the same episodes, so the
ratio is free of what else the machine did meanwhile. Conv4 on random N-way 1-shot episodes (5 queries per
class), inner-loop settings of the glyph table (docs/scripts/glyph_settings.sh at 20-way: 5 steps at lr 0.1;
MAML++ its own; Reptile 5 steps on support + query).

    python benchmarks/learner_step_speed.py --threads 1 --ways 20 --meta-batch 4 --reps 4 --warmup 1

`--probe-unadapted` adds a third side, a probe and not an engine: the `higher` engine with every parameter the
inner loop does not adapt frozen (MAML++'s per-step BatchNorm). `higher` takes each inner step's gradient with
respect to every parameter that requires one, adapted or not, so this side shows what that costs. Freezing drops
those parameters' meta-gradients, so it is no way to train.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from metaopt.algorithms import build_config, get_learner
from metaopt.models import Conv4
from metaopt.testing import random_episode

LEARNERS = ["maml", "fomaml", "anil", "metasgd", "mamlpp", "metacurvature", "reptile", "taml"]
ENGINES = ("batched", "higher")
PROBE = "higher-frozen"  # the higher engine with the non-adapted parameters frozen (see the docstring)


def learner_for(name: str, ways: int, engine: str):
    if engine == PROBE:
        learner, opt = learner_for(name, ways, "higher")
        adapted = {id(p) for p in learner.inner_loop.params}
        for p in learner.inner_loop.module.parameters():  # what higher differentiates at each step
            if id(p) not in adapted:
                p.requires_grad_(False)
        return learner, opt
    cls = get_learner(name)
    options = {} if name == "mamlpp" else {"inner_steps": 5, "inner_lr": 0.1}
    cfg = build_config(name, options)
    torch.manual_seed(0)
    learner = cls(Conv4(1, ways, **cls.model_options(cfg)), cfg, "classification")
    learner.begin_training(600)
    learner.use_engine(engine)
    return learner, torch.optim.SGD(learner.parameters(), lr=0.0)  # rate 0: every step sees the same weights


def time_learner(
    name: str, ways: int, meta_batch: int, reps: int, warmup: int, engines: tuple[str, ...] = ENGINES,
) -> dict[str, float]:
    tasks = [random_episode(ways, 1, 5, seed=i) for i in range(meta_batch)]
    sides = {engine: learner_for(name, ways, engine) for engine in engines}
    times: dict[str, list[float]] = {engine: [] for engine in engines}
    for rep in range(warmup + reps):
        for engine in (engines if rep % 2 == 0 else engines[::-1]):  # alternate who goes first
            learner, opt = sides[engine]
            start = time.perf_counter()
            learner.meta_step(tasks, opt, 300)  # mid-run: MAML++'s annealing is second order by then
            if rep >= warmup:
                times[engine].append(time.perf_counter() - start)
    return {engine: statistics.median(t) for engine, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", default=",".join(LEARNERS), help="comma-separated (default: the eight)")
    parser.add_argument("--ways", type=int, default=20)
    parser.add_argument("--meta-batch", type=int, default=4)
    parser.add_argument("--reps", type=int, default=4, help="timed meta-steps per engine (default 4)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed meta-steps per engine first (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the glyph runs)")
    parser.add_argument("--json", action="store_true", help="one JSON line per learner instead of the table")
    parser.add_argument("--probe-unadapted", action="store_true",
                        help="also time the higher engine with the non-adapted parameters frozen (a probe)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.algorithms.split(",")
    unknown = [n for n in names if n not in LEARNERS]
    if unknown:
        parser.error(f"unknown algorithm {unknown[0]!r}; choose from {', '.join(LEARNERS)}")
    engines = ENGINES + ((PROBE,) if args.probe_unadapted else ())
    if not args.json:
        print(f"{args.ways}-way 1-shot, meta-batch {args.meta_batch}, {args.threads} thread(s), "
              f"median of {args.reps} meta-steps per engine")
        print("| algorithm | " + " | ".join(f"{engine} s" for engine in engines) + " | batched faster by |")
        print("|---" * (len(engines) + 2) + "|")
    for name in names:
        t = time_learner(name, args.ways, args.meta_batch, args.reps, args.warmup, engines)
        ratio = t["higher"] / t["batched"]
        if args.json:
            print(json.dumps({"algorithm": name, "ways": args.ways, "meta_batch": args.meta_batch,
                              "threads": args.threads, "reps": args.reps, **t, "ratio": ratio}), flush=True)
        else:
            cells = " | ".join(f"{t[engine]:.3f}" for engine in engines)
            print(f"| {name} | {cells} | {ratio:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
