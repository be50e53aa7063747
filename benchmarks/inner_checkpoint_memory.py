"""Peak memory of second-order MAML against inner steps, with and without ``--inner-checkpoint`` (issue #12).

Workload: MAML, second order, Conv4 (64 channels, 28x28 inputs) 5-way 1-shot with 15 queries per class,
meta-batch 4, inner SGD, on the batched engine (tasks one after another on a CPU, each task's backward
before the next: the peak is one task's graph). For every inner-step count and both settings, a fresh
process builds the learner, records its resident set, runs ``--reps`` meta-iterations and reports:

- ``peak MB``: the resident set's high-water mark above the footprint after set-up (on CUDA: the
  allocator's peak above what was allocated after set-up);
- ``ms / it``: the median wall time of a meta-iteration (each process alone, one after another: on a
  loaded machine an indication only, not a measurement);
- once per run, the largest relative difference of the two settings' meta-gradients (float32, steps = the
  smallest count), so the memory saved is not bought with a different gradient.

    python benchmarks/inner_checkpoint_memory.py [--steps 5,10,20,40] [--threads 1] [--reps 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from metaopt.algorithms import build_config, get_learner
from metaopt.models import Conv4
from metaopt.testing import random_episode

_CHILD = """
import json, resource, statistics, sys, time, torch
sys.path.insert(0, {here!r})
import inner_checkpoint_memory as b
torch.set_num_threads({threads})
dev = torch.device({device!r})
learner, opt, tasks = b.setup({ways}, {meta_batch}, {steps}, {checkpoint}, dev)
if dev.type == "cuda":
    torch.cuda.synchronize(dev); torch.cuda.reset_peak_memory_stats(dev); base = torch.cuda.memory_allocated(dev)
else:
    base = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
times = []
for i in range({reps}):
    start = time.perf_counter()
    learner.meta_step(tasks, opt, i)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    times.append(time.perf_counter() - start)
if dev.type == "cuda":
    peak = torch.cuda.max_memory_allocated(dev)
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"peak_mb": (peak - base) / 2**20, "ms": 1e3 * statistics.median(times)}}))
"""


def setup(ways: int, meta_batch: int, steps: int, checkpoint: bool, device: torch.device):
    """The learner (seeded), its outer optimiser and fixed random episodes."""
    torch.manual_seed(0)
    config = build_config("maml", {"inner_steps": steps, "inner_lr": 0.4})
    learner = get_learner("maml")(Conv4(1, ways), config, "classification").to(device)
    learner.use_engine("batched")
    learner.use_inner_checkpoint(checkpoint)
    tasks = [random_episode(ways, 1, 15, seed=i).to(device) for i in range(meta_batch)]
    return learner, torch.optim.Adam(learner.parameters(), lr=1e-3), tasks


def measure(args: argparse.Namespace, steps: int, checkpoint: bool) -> dict[str, float]:
    code = _CHILD.format(here=__file__.rsplit("/", 1)[0], threads=args.threads, device=args.device, ways=args.ways,
                         meta_batch=args.meta_batch, steps=steps, checkpoint=checkpoint, reps=args.reps)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def gradient_difference(args: argparse.Namespace, steps: int) -> float:
    """Largest |difference| of the two settings' meta-gradients over the largest reference entry."""
    grads = {}
    for checkpoint in (False, True):
        learner, _, tasks = setup(args.ways, args.meta_batch, steps, checkpoint, torch.device(args.device))
        learner.meta_step(tasks, torch.optim.SGD(learner.parameters(), lr=0.0), 0)
        grads[checkpoint] = [p.grad.clone() for p in learner.parameters()]
    scale = max(float(g.abs().max()) for g in grads[False])
    return max(float((a - b).abs().max()) for a, b in zip(grads[False], grads[True])) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="5,10,20,40", help="inner-step counts (default 5,10,20,40)")
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--meta-batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    parser.add_argument("--reps", type=int, default=2, help="meta-iterations per process (default 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true", help="also print one JSON line per step count")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    counts = [int(s) for s in args.steps.split(",")]
    diff = gradient_difference(args, counts[0])
    print(f"MAML second order, Conv4 {args.ways}-way 1-shot, meta-batch {args.meta_batch}, {args.device}, "
          f"{args.threads} thread(s); meta-gradient difference with/without checkpointing at {counts[0]} steps: "
          f"{diff:.1e} (float32)")
    print("| inner steps | peak MB, plain | peak MB, checkpointed | memory ratio | ms/it plain | ms/it checkpointed "
          "| time ratio |")
    print("|---|---|---|---|---|---|---|")
    for steps in counts:
        plain, ckpt = measure(args, steps, False), measure(args, steps, True)
        row = {"steps": steps, "plain": plain, "checkpointed": ckpt, "grad_diff": diff}
        print(f"| {steps} | {plain['peak_mb']:.0f} | {ckpt['peak_mb']:.0f} | {ckpt['peak_mb'] / plain['peak_mb']:.2f} "
              f"| {plain['ms']:.0f} | {ckpt['ms']:.0f} | {ckpt['ms'] / plain['ms']:.2f}x |", flush=True)
        if args.json:
            print(json.dumps(row))


if __name__ == "__main__":
    main()
