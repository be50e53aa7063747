"""MAML's 2-D navigation figure (Finn et al. 2017, Fig. 5 left): return after 0, 1 and 3 policy-gradient
steps of MAML-RL, of a policy pretrained on all tasks (same budget, no adaptation in training) and of a
random initialisation, on the same fixed test tasks with the same per-task seeds; mean ± 95% CI.

    OMP_NUM_THREADS=1 python docs/scripts/maml_rl_nav2d.py --iterations 500 --meta-batch 20 --shots 100   # full
    OMP_NUM_THREADS=1 python docs/scripts/maml_rl_nav2d.py --iterations 30 --meta-batch 10 --shots 20     # small

Runs go to runs/maml-rl-nav2d/{maml,pretrained} (re-running resumes); the table and one JSON line are printed.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from metaopt.rl_adaptation import adaptation_curve
from metaopt.runs import RunConfig, build_run
from metaopt.trainer import TEST_SEED


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=500)
    p.add_argument("--meta-batch", type=int, default=20)
    p.add_argument("--shots", type=int, default=100, help="horizon (the paper's 100)")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--outer-lr", type=float, default=1e-2)
    p.add_argument("--tasks", type=int, default=100, help="fixed test tasks")
    p.add_argument("--steps", default="0,1,3")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/maml-rl-nav2d")
    args = p.parse_args()
    torch.set_num_threads(1)
    steps = [int(s) for s in args.steps.split(",")]
    train = {"iterations": args.iterations, "meta_batch": args.meta_batch, "outer_lr": args.outer_lr,
             "val_every": max(1, args.iterations // 5), "val_tasks": 20, "seed": args.seed}
    rows, seconds = {}, {}
    for name, learner in (("maml-rl", {}), ("pretrained", {"pretrain": True}), ("random init", None)):
        run = build_run(RunConfig("maml-rl", "nav2d", shots=args.shots,
                                  learner={"episodes": args.episodes, **(learner or {})}, train=train))
        start = time.perf_counter()
        if learner is not None:
            trainer = run.trainer(f"{args.out}/{name}", progress=False)
            trainer.fit()
            trainer.use_best()
        seconds[name] = round(time.perf_counter() - start, 1)
        tasks = run.sources["test"].fixed_tasks(args.tasks, TEST_SEED)
        rows[name] = adaptation_curve(run.learner, tasks, steps)
    print(f"nav2d horizon {args.shots}, {args.tasks} fixed test tasks, {args.episodes} trajectories per step; "
          f"mean trial return ± 95% CI (higher is better)")
    print(f"{'':<12}" + "".join(f"{f'{k} steps':>18}" for k in steps))
    for name, curve in rows.items():
        print(f"{name:<12}" + "".join(f"{curve[k]['return']:>10.2f} ± {curve[k]['ci95']:<5.2f}" for k in steps))
    print(json.dumps({"args": vars(args), "results": rows, "train_seconds": seconds}))


if __name__ == "__main__":
    main()
