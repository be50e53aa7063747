"""How much does running shared prompt prefixes once save on a protocol task? (issue #13)

Scores one held-out task of a text family the way ``docs/scripts/prompt_protocol.py`` does (every selector
in ``--selectors`` at ``--k`` with and without contextual calibration, ``--queries`` queries per class), with
the same ``FrozenLM`` weights twice per repetition: "whole" runs every prompt from its first token
(``share_prefixes=False``), "shared" runs a call's common prefixes once (the demonstrations before a
selector's content-free prompts and before every query of a fixed set; with labels of several tokens, also a
prompt before each of its labels). The memo is cleared before every pass; repetitions alternate; the two must
give the same accuracies and scores within float noise.

    python benchmarks/prefix_sharing_speed.py [--family wordnet] [--selectors zero,random,knn,balanced_knn,bm25]
        [--k 4] [--queries 10] [--reps 2] [--dtype float32] [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from prompting.comparison import CompareConfig, prepare_selectors, score_task
from prompting.encoder import SentenceEncoder
from prompting.lm import FrozenLM
from prompting.tasks import get_family


class _Recording:
    """The LM as the comparison sees it, keeping every prompt's scores (to compare the two passes)."""

    def __init__(self, lm: FrozenLM) -> None:
        self.lm, self.scores = lm, {}

    def label_logprobs(self, prompts, continuations):
        out = self.lm.label_logprobs(prompts, continuations)
        self.scores.update(zip(prompts, out))
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="wordnet")
    ap.add_argument("--selectors", default="zero,random,knn,balanced_knn,bm25")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--queries", type=int, default=10, help="queries per class (default 10: 40 a task)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    family = get_family(args.family)
    cfg = CompareConfig(args.family, tuple(args.selectors.split(",")), (args.k,), 1, (0,), 4, 8, args.queries,
                        protonet=False, split="test", calibration="both")
    cfg.validate()
    shared = FrozenLM.load(None, dtype=args.dtype, device=args.device)
    whole = FrozenLM(shared.model, shared.tokenizer, batch_size=shared.batch_size, share_prefixes=False)
    encoder = SentenceEncoder(device=args.device)
    selectors, _ = prepare_selectors(cfg, 0, family=family, lm=whole, encoder=encoder, selection={})
    task = family.tasks("test", 1, 0, **cfg.sizes())[0]
    times: dict[str, list[float]] = {"whole": [], "shared": []}
    results: dict[str, tuple[dict[str, float], int, dict]] = {}
    for _ in range(args.reps):
        for name, lm in (("whole", whole), ("shared", shared)):
            lm._memo.clear()
            recording = _Recording(lm)
            start = time.perf_counter()
            scores, n = score_task(cfg, task, 0, selectors=selectors, proto=None, lm=recording, encoder=encoder)
            times[name].append(time.perf_counter() - start)
            results[name] = (scores, n, recording.scores)
    (acc_w, n, sc_w), (acc_s, _, sc_s) = results["whole"], results["shared"]
    diff = max(float((sc_w[p] - sc_s[p]).abs().max()) for p in sc_w)
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {"family": args.family, "selectors": cfg.selectors, "k": args.k, "queries": len(task.queries),
           "prompts_scored": len(sc_w), "dtype": args.dtype, "device": args.device, "reps": args.reps,
           "whole_seconds": round(med["whole"], 2), "shared_seconds": round(med["shared"], 2),
           "speedup": med["whole"] / med["shared"], "max_abs_score_diff": diff,
           "same_accuracies": acc_w == acc_s, "accuracy_diffs": {k: acc_s[k] - acc_w[k] for k in acc_w
                                                                 if acc_s[k] != acc_w[k]}}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.family}, one task of {out['queries']} queries, {', '.join(cfg.selectors)} at k={args.k}, "
              f"with and without calibration: {out['prompts_scored']} distinct prompts, {args.dtype} on {args.device}, "
              f"median of {args.reps}:")
        for name, label in (("whole", "whole prompts:  "), ("shared", "shared prefixes:")):
            print(f"  {label} {med[name]:.1f} s ({out['prompts_scored'] / med[name]:.2f} prompts/s)")
        print(f"  ratio {out['speedup']:.2f}x; max score difference {diff:.1e}; same accuracies: "
              f"{out['same_accuracies']} {out['accuracy_diffs'] or ''}")


if __name__ == "__main__":
    main()
