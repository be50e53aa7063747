"""Meta-train MAML on sinusoids, then plot how it adapts to a new sine from K points.

    python examples/sinusoid_maml.py --iterations 2000 --out runs/example-sinusoid

Re-running resumes from the checkpoint in --out. Writes adaptation.png there: the K support
points and held-out query points of an unseen task, the meta-learned initialisation and the model after 1 and 10 steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from metaopt.runs import RunConfig, build_run, save_run_config  # noqa: E402
from metaopt.tasks.base import Task  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithm", default="maml")
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--out", default="runs/example-sinusoid")
    args = parser.parse_args()

    run = build_run(RunConfig(args.algorithm, "sinusoid", shots=args.shots, learner={"inner_lr": 0.01},
                              train={"iterations": args.iterations, "meta_batch": 25, "val_every": 250}))
    save_run_config(args.out, run.config)
    trainer = run.trainer(args.out)
    trainer.fit()
    trainer.use_best()
    print(trainer.evaluate("test", 600))

    task = run.sources["test"].fixed_tasks(1, 123)[0]
    grid = torch.linspace(-5, 5, 200).unsqueeze(1)
    dense = Task(task.support_x, task.support_y, grid, torch.zeros_like(grid), "regression")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(task.support_x, task.support_y, color="k", zorder=3, label=f"{args.shots} support points")
    ax.scatter(task.query_x, task.query_y, color="grey", marker="x", label="query points")
    with torch.no_grad():
        ax.plot(grid, run.learner.model(grid), "--", label="meta-learned initialisation")
    for steps in (1, 10):
        ax.plot(grid, run.learner.predict(dense, steps=steps), label=f"after {steps} step(s)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{args.algorithm} adapting to an unseen sinusoid")
    path = Path(args.out) / "adaptation.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
