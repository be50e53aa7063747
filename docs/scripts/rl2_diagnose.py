"""Issue #7: why RL^2 did not learn 100-pull bandits. A bare A2C loop over the library's own
``rollout`` / ``a2c_loss`` that prints, every --every updates, the training regret, the regret on
200 fixed validation bandits, the policy's entropy (nats) and the gradient norm before clipping.

    OMP_NUM_THREADS=1 nice -n 10 python docs/scripts/rl2_diagnose.py --entropy 0.01          # collapses
    OMP_NUM_THREADS=1 nice -n 10 python docs/scripts/rl2_diagnose.py --entropy 0.1 --lr 1e-2  # learns

Same model, meta-batch, gradient clip and Adam as `metaopt train` (docs/scripts/rl2_bandits.sh),
without checkpoints or tracking, so a setting costs one to two minutes on one core.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from metaopt.algorithms.rl2 import a2c_loss, rollout
from metaopt.rl_compare import rl2_regrets
from metaopt.runs import RunConfig, build_run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", default="bandit", choices=["bandit", "gridworld"])
    p.add_argument("--ways", type=int, default=5, help="arms (bandit) or grid side")
    p.add_argument("--shots", type=int, default=100, help="trial length")
    p.add_argument("--iterations", type=int, default=1500)
    p.add_argument("--meta-batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--gamma", type=float, default=0.9)
    p.add_argument("--lam", type=float, default=0.9)
    p.add_argument("--entropy", type=float, default=0.01)
    p.add_argument("--value-coef", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--no-normalize", action="store_true", help="raw GAE advantages")
    p.add_argument("--seed", type=int, default=0, help="seed of the training tasks (the model init is seed 0)")
    p.add_argument("--every", type=int, default=300)
    a = p.parse_args()
    torch.set_num_threads(1)
    run = build_run(RunConfig("rl2", a.benchmark, ways=a.ways, shots=a.shots, learner={"hidden": a.hidden}))
    model, source = run.learner.model, run.sources["train"]
    val = run.sources["val"].fixed_tasks(200, 12345)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    start = time.time()
    print(f"start: validation regret {float(rl2_regrets(run.learner, val).mean()):.2f}", flush=True)
    train = []
    for it in range(a.iterations):
        roll = rollout(model, [source.sample(rng) for _ in range(a.meta_batch)])
        loss = a2c_loss(roll, a.gamma, a.lam, a.entropy, a.value_coef, normalize=not a.no_normalize)
        opt.zero_grad()
        loss.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip))
        opt.step()
        train.append(float(roll.regret.mean()))
        if (it + 1) % a.every == 0:
            v = float(rl2_regrets(run.learner, val).mean())
            entropy = float(roll.entropies.detach().mean())
            print(f"update {it + 1}: train regret {np.mean(train[-a.every:]):.2f}  validation regret {v:.2f}  "
                  f"entropy {entropy:.3f}  grad norm {norm:.3f}  {time.time() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
