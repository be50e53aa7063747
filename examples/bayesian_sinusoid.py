"""Meta-train ABML (a Bayesian MAML) on sinusoids and plot its predictive intervals on unseen sines.

    python examples/bayesian_sinusoid.py --iterations 2000 --out runs/example-abml-sinusoid

Also trains MAML with the same budget for comparison. Prints, over the fixed meta-test tasks:
MSE of both (ABML: its predictive mean), and for ABML the fraction of query points inside its
95% interval (mean ± 1.96 std, weight spread plus learned observation noise) and the average
interval width. Writes the plot to --plot (default: intervals.png in --out). Re-running resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from metaopt.runs import RunConfig, build_run, save_run_config  # noqa: E402
from metaopt.tasks.base import Task  # noqa: E402


def train(algorithm: str, args: argparse.Namespace):
    learner = {"inner_lr": 0.01, **({"samples": 2} if algorithm == "abml" else {})}
    run = build_run(RunConfig(algorithm, "sinusoid", shots=args.shots, queries=10, learner=learner,
                              train={"iterations": args.iterations, "meta_batch": args.meta_batch,
                                     "val_every": max(1, args.iterations // 8), "val_tasks": args.val_tasks}))
    out = Path(args.out) / algorithm
    save_run_config(out, run.config)
    trainer = run.trainer(out, progress=not args.no_progress)
    trainer.fit()
    trainer.use_best()
    return run, trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--meta-batch", type=int, default=25)
    parser.add_argument("--tasks", type=int, default=600, help="fixed meta-test tasks")
    parser.add_argument("--val-tasks", type=int, default=100, help="fixed validation tasks")
    parser.add_argument("--out", default="runs/example-abml-sinusoid")
    parser.add_argument("--plot", help="where to write the figure (default OUT/intervals.png)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)

    summary = {}
    for algorithm in ("maml", "abml"):
        run, trainer = train(algorithm, args)
        result = trainer.evaluate("test", args.tasks, progress=False)
        summary[algorithm] = {"mse": result.mean, "mse_ci95": result.ci95}
    abml = run.learner
    tasks = run.sources["test"].fixed_tasks(args.tasks, 2)
    preds = [abml.predictive(t) for t in tasks]
    summary["abml"]["coverage95"] = sum(p.coverage(t.query_y) for p, t in zip(preds, tasks)) / len(tasks)
    summary["abml"]["interval_width"] = float(torch.stack([2 * 1.96 * p.std().mean() for p in preds]).mean())
    summary["abml"]["noise_std"] = preds[0].noise_std
    print(json.dumps(summary, sort_keys=True))

    grid = torch.linspace(-5, 5, 200).unsqueeze(1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
    for ax, task in zip(axes, run.sources["test"].fixed_tasks(3, 123)):
        dense = Task(task.support_x, task.support_y, grid, torch.zeros_like(grid), "regression")
        pred = abml.predictive(dense, samples=30)
        mean, std = pred.mean()[:, 0], pred.std()[:, 0]
        ax.fill_between(grid[:, 0], mean - 1.96 * std, mean + 1.96 * std, alpha=0.25, label="ABML 95% interval")
        for curve in pred.samples[:5, :, 0]:
            ax.plot(grid, curve, color="tab:blue", lw=0.5, alpha=0.5)
        ax.plot(grid, mean, color="tab:blue", label="ABML predictive mean")
        ax.scatter(task.query_x, task.query_y, color="grey", marker="x", label="query points (unseen)")
        ax.scatter(task.support_x, task.support_y, color="k", zorder=3, label=f"{args.shots} support points")
        ax.set_xlabel("x")
    axes[0].set_ylabel("y")
    axes[0].legend(loc="lower left", fontsize=7)
    fig.suptitle(f"ABML on unseen sinusoids, K={args.shots}: posterior samples (thin), mean and 95% interval")
    fig.tight_layout()
    path = Path(args.plot) if args.plot else Path(args.out) / "intervals.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
