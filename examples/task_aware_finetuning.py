"""Task-aware fine-tuning on glyphs: a meta-learned init vs random init vs pooled pre-training.

    python examples/task_aware_finetuning.py --init-run runs/glyphs/maml-5w1s --tasks 20 --out runs/finetune

--init-run is a MAML (or Reptile, ...) glyphs 5-way run from `metaopt train` (docs/scripts/glyphs.sh
writes runs/glyphs/maml-5w1s). Target tasks are 5-way tasks on the meta-test alphabets with 15
training and 5 test images per letter; each start is fine-tuned with full-batch Adam on the first
k training images per letter and scored on the test images after each step count. Pooled
pre-training trains the same Conv4 on all meta-training letters (ordinary supervised learning)
and gets a fresh 5-way head. Writes results.json, a markdown table and a plot to --out;
--track logs them to MLflow as one run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from metaopt.evaluation import mean_ci95  # noqa: E402
from metaopt.finetune import finetune_curve, pretrain_pooled, with_new_head  # noqa: E402
from metaopt.models import default_model  # noqa: E402
from metaopt.runs import load_run  # noqa: E402
from metaopt.tasks.benchmarks import get_benchmark  # noqa: E402
from metaopt.tasks.episodes import EpisodeSampler  # noqa: E402
from metaopt.trainer import TEST_SEED  # noqa: E402


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--init-run", required=True, help="meta-trained glyphs run directory (5-way)")
    parser.add_argument("--tasks", type=int, default=20, help="fixed target tasks from the meta-test alphabets")
    parser.add_argument("--shots", type=_ints, default=[1, 5, 10, 15], help="training images per letter")
    parser.add_argument("--steps", type=_ints, default=[1, 10, 50, 100], help="fine-tuning steps to score at")
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning Adam learning rate")
    parser.add_argument("--pretrain-steps", type=int, default=2000, help="pooled pre-training steps (batch 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/finetune")
    parser.add_argument("--track", action="store_true", help="log parameters, table and plot to MLflow")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    meta = load_run(args.init_run)
    if meta.config.benchmark != "glyphs" or meta.config.ways != 5:
        raise SystemExit(f"--init-run must be a glyphs 5-way run, got {meta.config.benchmark} {meta.config.ways}-way")
    dataset, splits = get_benchmark("glyphs").data()
    shape = dataset.image_shape
    pooled = pretrain_pooled(lambda n: default_model(shape, n), dataset, splits.train, steps=args.pretrain_steps,
                             seed=args.seed, progress=True)
    torch.manual_seed(args.seed)
    inits = {
        f"meta-learned ({meta.config.algorithm})": meta.learner.model,
        "random init": default_model(shape, 5),
        "pooled pre-training": with_new_head(pooled, 5, args.seed),
    }
    source = EpisodeSampler(dataset, splits.test, ways=5, shots=max(args.shots), queries=5)
    tasks = source.fixed_tasks(args.tasks, TEST_SEED)
    curve = finetune_curve(inits, tasks, shots=args.shots, steps=args.steps, lr=args.lr, progress=True)

    table = {name: {k: [mean_ci95([s[j] for s in runs]) for j in range(len(args.steps))]
                    for k, runs in by_k.items()} for name, by_k in curve.items()}
    (out / "results.json").write_text(json.dumps({"args": vars(args), "table": table}, indent=1))
    last = args.steps[-1]
    lines = ["| start | " + " | ".join(f"k={k}" for k in args.shots) + " |", "|---" * (len(args.shots) + 1) + "|"]
    for name, by_k in table.items():
        cells = [f"{100 * by_k[k][-1][0]:.1f} ± {100 * by_k[k][-1][1]:.1f}" for k in args.shots]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    markdown = f"Accuracy (%) after {last} fine-tuning steps, {args.tasks} target tasks:\n\n" + "\n".join(lines)
    (out / "table.md").write_text(markdown + "\n")
    print(markdown)

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    mid = args.shots[len(args.shots) // 2]
    for name, by_k in table.items():
        left.errorbar(args.shots, [100 * by_k[k][-1][0] for k in args.shots],
                      yerr=[100 * by_k[k][-1][1] for k in args.shots], marker="o", capsize=3, label=name)
        right.errorbar(args.steps, [100 * m for m, _ in by_k[mid]], yerr=[100 * c for _, c in by_k[mid]],
                       marker="o", capsize=3, label=name)
    left.set(xlabel="training images per letter (k)", ylabel="test accuracy (%)", title=f"after {last} steps")
    right.set(xlabel="fine-tuning steps", xscale="log", title=f"k = {mid} images per letter")
    left.legend(fontsize=8)
    fig.suptitle("glyphs, 5-way target tasks on unseen alphabets: fine-tuning from three starts")
    fig.tight_layout()
    fig.savefig(out / "finetune.png", dpi=110)
    print(f"plot and table written to {out}")
    if args.track:
        from metaopt.tracking import log_figure, mlflow_run

        with mlflow_run(experiment="metaopt-finetune", run_name="task-aware-finetuning"):
            import mlflow

            mlflow.log_params({k: str(v) for k, v in vars(args).items()})
            for name, by_k in table.items():
                for k in args.shots:
                    mlflow.log_metric(f"acc_k{k}_{name.split()[0]}", by_k[k][-1][0])
            mlflow.log_text(markdown, "table.md")
            log_figure(fig, "finetune.png")


if __name__ == "__main__":
    main()
