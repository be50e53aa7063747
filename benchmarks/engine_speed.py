"""The batched inner-loop engine against the higher engine and against a plain ``higher`` loop (issue #12).

For each workload, one meta-iteration (every task's inner loop, the query losses, one backward, one
Adam step) is timed on four sides, interleaved in one process so load hits them alike:

- ``batched``: metaopt's MAML on the batched engine (``torch.func`` + ``vmap`` over the meta-batch);
- ``higher``: the same learner on metaopt's ``higher`` engine;
- ``plain``: a reference written here with ``higher.innerloop_ctx`` and no metaopt code, task by task,
  as a ``higher`` user writes MAML (the peer's speed);
- ``null``: a second, identical batched learner, so ``batched / null`` shows how far this machine's
  noise moves a ratio that should be 1;
- ``compiled`` (``--compile``): the batched learner with ``torch.compile`` on its vmapped meta-batch; its
  compile time (the first iterations, which recompile once for the iteration number) is printed apart.

Before timing, the meta-gradients of ``batched`` and ``plain`` from the same weights are compared.
Printed per workload: median ms per meta-iteration, the speed-ups ``higher / batched`` and
``plain / batched``, the null ratio, the useful FLOPs of one meta-iteration (``torch.utils.flop_counter``
on the plain side; every side computes the same arithmetic) as achieved GFLOP/s of the batched side
and as a share of this machine's measured float32 GEMM peak, and peak memory per side (``--memory``:
each side in a fresh subprocess; resident set on the CPU, allocator peak on CUDA).

    python benchmarks/engine_speed.py [--threads 2] [--reps 10] [--only sinusoid,conv5-mb4] [--memory] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from metaopt.algorithms import build_config, get_learner
from metaopt.models import MLP, Conv4
from metaopt.tasks.base import Task
from metaopt.testing import random_episode


@dataclass(frozen=True)
class Workload:
    name: str
    ways: int | None  # None: sinusoid regression
    meta_batch: int
    steps: int
    first_order: bool = False


WORKLOADS = [
    Workload("sinusoid-mb25", None, 25, 1),
    Workload("conv5-mb4", 5, 4, 5),
    Workload("conv5-mb16", 5, 16, 5),
    Workload("conv5-mb16-first-order", 5, 16, 5, first_order=True),
    Workload("conv5-mb32", 5, 32, 5),  # the GPU target (launch-bound there)
    Workload("conv20-mb4", 20, 4, 5),
    Workload("conv20-mb16", 20, 16, 5),
    Workload("conv5-mb4-20-steps", 5, 4, 20),
]


def tasks_for(w: Workload, device: torch.device) -> list[Task]:
    if w.ways is None:
        g = torch.Generator().manual_seed(0)
        tasks = []
        for _ in range(w.meta_batch):
            x = torch.rand(20, 1, generator=g) * 10 - 5
            y = (torch.rand(1, generator=g) * 4.9 + 0.1) * torch.sin(x - torch.rand(1, generator=g) * 3.14)
            tasks.append(Task(x[:10], y[:10], x[10:], y[10:], kind="regression"))
    else:
        tasks = [random_episode(w.ways, 1, 15, seed=i) for i in range(w.meta_batch)]
    return [t.to(device) for t in tasks]


def learner_for(w: Workload, engine: str, device: torch.device):
    name = "fomaml" if w.first_order else "maml"
    torch.manual_seed(0)
    if w.ways is None:
        model, kind, lr = MLP(1, (40, 40), 1), "regression", 0.01
    else:
        model, kind, lr = Conv4(1, w.ways), "classification", 0.4
    learner = get_learner(name)(model, build_config(name, {"inner_steps": w.steps, "inner_lr": lr}), kind).to(device)
    learner.use_engine(engine)
    return learner, torch.optim.Adam(learner.parameters(), lr=1e-3)


class PlainHigher:
    """MAML as a ``higher`` user writes it: innerloop_ctx per task, backward per task, one Adam step."""

    def __init__(self, w: Workload, device: torch.device) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import higher
        self.higher = higher
        self.w = w
        torch.manual_seed(0)
        self.model = (MLP(1, (40, 40), 1) if w.ways is None else Conv4(1, w.ways)).to(device)
        self.lr = 0.01 if w.ways is None else 0.4
        self.inner_opt = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        self.outer_opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = F.mse_loss if w.ways is None else F.cross_entropy

    def meta_grads(self, tasks: list[Task]) -> None:
        for task in tasks:
            with self.higher.innerloop_ctx(self.model, self.inner_opt, copy_initial_weights=False,
                                           track_higher_grads=not self.w.first_order) as (fmodel, diffopt):
                for _ in range(self.w.steps):
                    diffopt.step(self.loss(fmodel(task.support_x), task.support_y))
                query = self.loss(fmodel(task.query_x), task.query_y) / len(tasks)
                if not self.w.first_order:
                    query.backward()
                    continue
                # First order with higher: the adapted weights are cut from the initial ones, so their
                # query gradient is added to the initial weights by hand (the usual FOMAML recipe).
                for p, g in zip(self.model.parameters(), torch.autograd.grad(query, list(fmodel.parameters()))):
                    p.grad = g if p.grad is None else p.grad + g

    def meta_step(self, tasks: list[Task], _opt: object, _it: int) -> None:
        self.outer_opt.zero_grad(set_to_none=True)
        self.meta_grads(tasks)
        self.outer_opt.step()


def check_same_gradients(w: Workload, device: torch.device) -> float:
    """Largest meta-gradient difference of batched vs plain higher, relative to the largest entry."""
    learner, _ = learner_for(w, "batched", device)
    plain = PlainHigher(w, device)
    tasks = tasks_for(w, device)
    learner.zero_grad()
    learner.meta_step(tasks, torch.optim.SGD(learner.parameters(), lr=0.0), 0)
    plain.model.zero_grad()
    plain.meta_grads(tasks)
    ours = [p.grad for p in learner.model.parameters()]
    theirs = [p.grad for p in plain.model.parameters()]
    scale = max(float(t.abs().max()) for t in theirs)
    return max(float((a - b).abs().max()) for a, b in zip(ours, theirs)) / scale


def useful_flops(w: Workload, device: torch.device) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    plain = PlainHigher(w, device)
    with FlopCounterMode(display=False) as counter:
        plain.meta_step(tasks_for(w, device), None, 0)
    return counter.get_total_flops()


def gemm_peak(device: torch.device, n: int = 2048) -> float:
    """FLOP/s of a float32 n x n matmul here (the best of 5): the machine's practical peak."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def compiled_learner(w: Workload, device: torch.device, tasks: list[Task]) -> tuple[object, object, float, bool]:
    """The batched learner with ``--compile``, the seconds its first two meta-iterations took (compiling) and
    whether anything was compiled (image tasks on a CPU run one by one, uncompiled)."""
    learner, opt = learner_for(w, "batched", device)
    learner.use_compile(True)
    start = time.perf_counter()
    for it in range(2):  # the second recompiles once with the iteration number as a dynamic int
        learner.meta_step(tasks, opt, it)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return learner, opt, time.perf_counter() - start, learner._batch(tasks)


def time_sides(w: Workload, device: torch.device, reps: int, warmup: int,
               compiled: tuple[object, object] | None = None) -> dict[str, float]:
    sides = {"batched": learner_for(w, "batched", device), "higher": learner_for(w, "higher", device),
             "plain": (PlainHigher(w, device), None), "null": learner_for(w, "batched", device)}
    if compiled is not None:
        sides["compiled"] = compiled
    tasks = tasks_for(w, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {k: [] for k in sides}
    order = list(sides)
    for rep in range(warmup + reps):
        for key in order[rep % len(order):] + order[:rep % len(order)]:  # rotate who goes first
            learner, opt = sides[key]
            start = time.perf_counter()
            learner.meta_step(tasks, opt, rep)
            sync()
            if rep >= warmup:
                times[key].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def peak_memory(w: Workload, side: str, device: str, threads: int) -> float:
    """MB above the set-up's footprint while ``side`` runs two meta-iterations, in a fresh process."""
    code = f"""
import resource, sys, torch
sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r})
import engine_speed as b
torch.set_num_threads({threads})
w = [x for x in b.WORKLOADS if x.name == {w.name!r}][0]
dev = torch.device({device!r})
side = {side!r}
learner, opt = (b.PlainHigher(w, dev), None) if side == "plain" else b.learner_for(w, side, dev)
tasks = b.tasks_for(w, dev)
if dev.type == "cuda":
    torch.cuda.reset_peak_memory_stats(dev); base = torch.cuda.memory_allocated(dev)
else:
    base = int(open("/proc/self/statm").read().split()[1]) * 4096
for i in range(2):
    learner.meta_step(tasks, opt, i)
if dev.type == "cuda":
    peak = torch.cuda.max_memory_allocated(dev)
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print((peak - base) / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--reps", type=int, default=10, help="timed meta-iterations per side (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed meta-iterations per side first (default 2)")
    parser.add_argument("--only", help="comma-separated workload names (default: all): "
                        + ", ".join(w.name for w in WORKLOADS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory per side (subprocesses)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per workload")
    parser.add_argument("--compile", action="store_true", help="also time the batched learner under --compile")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    chosen = [w for w in WORKLOADS if not args.only or w.name in args.only.split(",")]
    peak = gemm_peak(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} CPU thread(s)"
    print(f"{where}; float32 GEMM peak measured here: {peak / 1e9:.1f} GFLOP/s; median of {args.reps} "
          f"meta-iterations per side after {args.warmup} warm-up, interleaved")
    for w in chosen:
        diff = check_same_gradients(w, device)
        compiled = compiled_learner(w, device, tasks_for(w, device)) if args.compile else None
        t = time_sides(w, device, args.reps, args.warmup, compiled[:2] if compiled else None)
        flops = useful_flops(w, device)
        row = {"workload": w.name, "ms": {k: round(v * 1e3, 2) for k, v in t.items()},
               "speedup_vs_higher_engine": t["higher"] / t["batched"],
               "speedup_vs_plain_higher": t["plain"] / t["batched"],
               "null_ratio": t["null"] / t["batched"], "max_rel_grad_diff_vs_plain": diff,
               "gflop_per_iteration": flops / 1e9, "batched_gflops": flops / t["batched"] / 1e9,
               "batched_share_of_peak": flops / t["batched"] / peak, "plain_share_of_peak": flops / t["plain"] / peak}
        if compiled:
            row["compile_seconds"], row["compiled"] = round(compiled[2], 1), compiled[3]
            row["speedup_compiled_vs_batched"] = t["batched"] / t["compiled"]
        if args.memory:
            row["peak_mb"] = {side: round(peak_memory(w, side, args.device, args.threads), 1)
                              for side in ("batched", "higher", "plain")}
        ms = row["ms"]
        print(f"{w.name:<24} batched {ms['batched']:>9.1f} ms | higher engine {ms['higher']:>9.1f} ms "
              f"({row['speedup_vs_higher_engine']:.2f}x) | plain higher {ms['plain']:>9.1f} ms "
              f"({row['speedup_vs_plain_higher']:.2f}x) | null {row['null_ratio']:.3f} | "
              f"{row['gflop_per_iteration']:.2f} GFLOP/it, batched {row['batched_gflops']:.1f} GFLOP/s = "
              f"{100 * row['batched_share_of_peak']:.0f}% of peak (plain {100 * row['plain_share_of_peak']:.0f}%) | "
              f"grad diff {diff:.1e}" + (f" | peak MB {row['peak_mb']}" if args.memory else ""))
        if compiled:
            print(f"{'':<24} compiled {ms['compiled']:>8.1f} ms ({row['speedup_compiled_vs_batched']:.2f}x the "
                  f"batched side; {row['compile_seconds']} s to compile"
                  + ("" if compiled[3] else "; nothing compiled: these tasks run one by one") + ")")
        if args.json:
            print(json.dumps(row))


if __name__ == "__main__":
    main()
