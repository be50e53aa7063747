"""How much faster is a GPU for each learner? Milliseconds per meta-iteration on the CPU and on CUDA.

Every classifier in the registry takes the same meta-iterations (N-way K-shot 28x28 episodes of
random images, Conv4, the learner's defaults, Adam) on the CPU and then on the GPU, in one process,
after a warm-up on each; the medians and their ratio are printed. Random images time the same
arithmetic as real ones, so no dataset is needed.

    python benchmarks/device_speed.py [--ways 5 --shots 1 --queries 5 --meta-batch 4 --reps 10] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from metaopt.algorithms import available_learners, build_config, get_learner
from metaopt.models import default_model
from metaopt.testing import random_episode

# The meta-LSTM's defaults (20 units over 112k weights) take minutes per iteration on a CPU.
OPTIONS = {"metalstm": {"hidden_size": 4}}


def time_learner(name: str, device: torch.device, args: argparse.Namespace) -> float:
    """Median milliseconds of one meta-iteration (``args.meta_batch`` episodes) on ``device``."""
    cls = get_learner(name)
    config = build_config(name, OPTIONS.get(name))
    torch.manual_seed(0)
    learner = cls(default_model((1, 28, 28), args.ways, **cls.model_options(config)), config, "classification")
    learner.to(device)
    learner.begin_training(1000)
    optimizer = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=1e-3)
    tasks = [random_episode(args.ways, args.shots, args.queries, seed).to(device) for seed in range(args.meta_batch)]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(args.warmup + args.reps):
        sync()
        start = time.perf_counter()
        learner.meta_step(tasks, optimizer, 500)
        sync()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--meta-batch", type=int, default=4)
    parser.add_argument("--reps", type=int, default=10, help="timed meta-iterations per learner and device")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="CPU torch threads (default: torch's)")
    parser.add_argument("--algorithms", help="comma-separated (default: every classifier)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("device_speed: no CUDA GPU on this machine (it times the CPU against one)")
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.algorithms.split(",") if args.algorithms else [
        n for n in available_learners() if "classification" in get_learner(n).kinds]
    gpu = torch.device("cuda")
    print(f"{args.ways}-way {args.shots}-shot {args.queries}-query 28x28 episodes, meta-batch {args.meta_batch}, "
          f"median of {args.reps}; CPU: {torch.get_num_threads()} threads; GPU: {torch.cuda.get_device_name(gpu)}")
    print(f"{'learner':<14} {'CPU ms':>9} {'GPU ms':>9} {'speed-up':>9}")
    rows = {}
    for name in names:
        cpu_ms, gpu_ms = time_learner(name, torch.device("cpu"), args), time_learner(name, gpu, args)
        rows[name] = {"cpu_ms": cpu_ms, "gpu_ms": gpu_ms, "speedup": cpu_ms / gpu_ms}
        print(f"{name:<14} {cpu_ms:>9.1f} {gpu_ms:>9.1f} {cpu_ms / gpu_ms:>8.1f}x", flush=True)
    if args.json:
        print(json.dumps({"config": vars(args), "rows": rows}))


if __name__ == "__main__":
    main()
