"""On a few CPU cores, does one process with N threads or N processes with one thread each score more prompts?

The prompt protocol (``docs/scripts/prompt_protocol.py``) runs one family per process, so it can use either.
Each side scores the same ``--prompts`` k-shot prompts (from ``lm_scoring_speed.make_prompts``) with
SmolLM2 after a warm-up; "processes" runs ``--cores`` workers at once and counts their prompts together.
Repetitions alternate the two sides; the medians of total prompts per second are compared.

    python benchmarks/lm_threads_vs_processes.py [--cores 2] [--prompts 32] [--reps 2] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def worker(threads: int, prompts: int, dtype: str) -> None:
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(Path(__file__).parent))
    from lm_scoring_speed import make_prompts

    from prompting.lm import FrozenLM

    texts, labels = make_prompts("wordnet", prompts, 4)
    lm = FrozenLM.load("smollm2", dtype=dtype)
    lm.label_logprobs(texts[:4], labels)  # warm-up, outside the clock
    print("ready", flush=True)
    sys.stdin.readline()  # every worker starts the clock together
    start = time.perf_counter()
    lm.label_logprobs(texts, labels)
    print(json.dumps({"seconds": time.perf_counter() - start, "prompts": len(texts)}), flush=True)


def run_side(workers: int, threads: int, args: argparse.Namespace) -> float:
    """Total prompts per second of ``workers`` processes at ``threads`` threads each, started together."""
    cmd = [sys.executable, __file__, "--worker", str(threads), "--prompts", str(args.prompts), "--dtype", args.dtype]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True) for _ in range(workers)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return sum(r["prompts"] for r in results) / max(r["seconds"] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker(args.worker, args.prompts, args.dtype)
        return
    if args.cores < 1 or args.prompts < 1 or args.reps < 1:
        ap.error("--cores, --prompts and --reps must be at least 1")
    one, many = [], []
    for _ in range(args.reps):
        one.append(run_side(1, args.cores, args))
        many.append(run_side(args.cores, 1, args))
    a, b = statistics.median(one), statistics.median(many)
    print(f"1 process x {args.cores} threads: {a:.2f} prompts/s; {args.cores} processes x 1 thread: {b:.2f} "
          f"prompts/s in all; ratio {b / a:.2f}x ({args.prompts} wordnet prompts, k = 4, {args.dtype}, "
          f"median of {args.reps})")


if __name__ == "__main__":
    main()
