"""How much faster is label scoring with only the used logits? (issue #13)

Builds ``--prompts`` k-shot classification prompts from a text task family and scores them with the same
``FrozenLM`` weights twice per repetition: "before" computes the log-softmax over the whole vocabulary at
every position (``only_used_logits=False``), "after" projects only the positions the labels need
(``logits_to_keep``). The memo is cleared before every pass, so both score every prompt. Repetitions
alternate between the two (load on a shared machine hits both alike); medians are compared, and the two
must agree on the scores first.

    python benchmarks/lm_scoring_speed.py [--family wordnet] [--prompts 32] [--k 4] [--reps 3]
        [--dtype float32|bfloat16] [--device cpu|cuda] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from prompting.lm import FrozenLM
from prompting.prompt import build_prompt, continuations
from prompting.tasks import get_family


def make_prompts(family: str, n: int, k: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` prompts of ``k`` demonstrations each, over 4-way tasks of the family's test classes."""
    fam = get_family(family)
    prompts: list[str] = []
    task = None
    for task in fam.tasks("test", max(1, n // 8 + 1), seed, ways=4, pool_per_class=8, queries_per_class=2):
        labels = dict(zip(task.classes, task.verbalisers))
        for i, q in enumerate(task.queries):
            demos = [task.pool[(i + j) % len(task.pool)] for j in range(k)]
            prompts.append(build_prompt(labels, demos, q.text))
    assert task is not None
    return prompts[:n], continuations(dict(zip(task.classes, task.verbalisers)))


def timed(lm: FrozenLM, prompts: list[str], labels: list[str], device: str) -> tuple[float, torch.Tensor]:
    lm._memo.clear()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    scores = lm.label_logprobs(prompts, labels)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="wordnet")
    ap.add_argument("--model", default=None, help="LM name or path (default SmolLM2-135M)")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    prompts, labels = make_prompts(args.family, args.prompts, args.k)
    after = FrozenLM.load(args.model, dtype=args.dtype, device=args.device, batch_size=args.batch_size)
    before = FrozenLM(after.model, after.tokenizer, batch_size=args.batch_size, only_used_logits=False)
    _, ref = timed(before, prompts, labels, args.device)  # warm-up, and the reference scores
    _, got = timed(after, prompts, labels, args.device)
    if not after.only_used_logits:
        raise SystemExit("this model does not take per-row logits_to_keep: nothing to compare")
    tol = 1e-3 if args.dtype == "float32" else 0.5
    if not torch.allclose(ref, got, atol=tol):
        raise SystemExit(f"scores differ by {float((ref - got).abs().max()):.2e}: not comparable")
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.reps):
        for name, lm in (("before", before), ("after", after)):
            times[name].append(timed(lm, prompts, labels, args.device)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    tokens = sum(len(after._ids(p, True)) for p in prompts) / len(prompts)
    out = {"prompts": len(prompts), "mean_tokens": round(tokens, 1), "k": args.k, "dtype": args.dtype,
           "device": args.device, "reps": args.reps, "batch_size": args.batch_size,
           "before_prompts_per_s": len(prompts) / med["before"], "after_prompts_per_s": len(prompts) / med["after"],
           "speedup": med["before"] / med["after"], "max_abs_diff": float((ref - got).abs().max())}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['prompts']} prompts of {out['mean_tokens']} tokens (k={args.k}), {args.dtype} on {args.device}, "
              f"median of {args.reps}:")
        print(f"  before (full vocabulary at every position): {out['before_prompts_per_s']:.2f} prompts/s")
        print(f"  after (only the used logits):               {out['after_prompts_per_s']:.2f} prompts/s")
        print(f"  ratio {out['speedup']:.2f}x; max score difference {out['max_abs_diff']:.1e}")


if __name__ == "__main__":
    main()
