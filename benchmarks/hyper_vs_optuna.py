"""Gradient-based hyperparameter learning against Optuna's TPE and random search, at equal steps.

Task: train a 64-64-10 MLP for ``--train-steps`` SGD steps (batch 64) on scikit-learn's digits
(1,000 train / 400 validation / 397 test, split fixed by seed 0); hyperparameters: learning rate
[1e-3, 1] (log), weight decay [1e-6, 0.1] (log), momentum [0, 0.99]. The metric is the
validation cross-entropy of the final network (test loss and accuracy reported alongside).

* TPE and random search: ``--trials`` trials, each one full training run; their cost is
  trials x train-steps steps. The curve is the best validation loss after each trial.
* Gradient methods: one training run of ``--train-steps`` steps that learns its hyperparameters
  on the way (unrolled, IFT, HD-SGD, HD-Adam), started from the middle of the space; "+retrain"
  variants then train a fresh network with the final learned values (twice the steps); "xN starts"
  variants run the method from N initial learning rates and keep the best (N times the steps;
  unrolled x8 uses exactly one fifth of the searches' 20,000 steps).

Every method and seed uses the same batches (``seed`` keys initialisation and batch order, and
the samplers). Writes ``OUT/results.json`` and ``OUT/hyper_vs_optuna.png``.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/hyper_vs_optuna.py --seeds 0 1 2 --out docs/hyper
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from metaopt.hyper.ift import IFTConfig
from metaopt.hyper.problems import load_problem
from metaopt.hyper.runner import run_hd, run_ift, run_unrolled, train_fixed
from metaopt.hyper.unrolled import UnrolledConfig

SPACE = {"lr": (1e-3, 1.0), "weight_decay": (1e-6, 0.1), "momentum": (0.0, 0.99)}
START = {"lr": 0.05, "weight_decay": 1e-4, "momentum": 0.5}
FAILED = 10.0  # validation loss charged to a diverged trial (chance level is ln 10 = 2.3)


def _finite(value: float) -> float:
    return value if math.isfinite(value) else FAILED


def search(problem, sampler_name: str, trials: int, steps: int, seed: int) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.TPESampler(seed=seed) if sampler_name == "tpe"
               else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    tests: dict[int, dict] = {}

    def objective(trial):
        lr = trial.suggest_float("lr", *SPACE["lr"], log=True)
        wd = trial.suggest_float("weight_decay", *SPACE["weight_decay"], log=True)
        momentum = trial.suggest_float("momentum", *SPACE["momentum"])
        result = train_fixed(problem, lr=lr, weight_decay=wd, momentum=momentum, steps=steps, seed=seed)
        tests[trial.number] = result.scores
        return _finite(result.scores["val_loss"])

    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    best_so_far, curve = math.inf, []
    for t in study.trials:
        best_so_far = min(best_so_far, t.value)
        curve.append({"steps": (t.number + 1) * steps, "val_loss": best_so_far})
    best = study.best_trial
    return {"curve": curve, "steps": trials * steps, "val_loss": best.value, "scores": tests[best.number],
            "hyperparameters": best.params, "seconds": time.perf_counter() - started}


# The gradient methods' own settings come from docs/scripts/hyper_pilot.py (seed 100, not reported).
HYPER_LR = {"unrolled": 0.1, "ift": 0.3, "hd-sgd": 0.05, "hd-adam": 0.05}
HORIZON = 25
# Multi-start: the same method from several initial learning rates, the best validation kept.
STARTS = {"unrolled": (0.01, 0.03, 0.1, 0.3), "hd-adam": (3e-4, 1e-3, 3e-3, 1e-2)}
# Eight starts, log-spaced over the whole LR range: exactly one fifth of the searches' budget.
STARTS8 = {"unrolled": tuple(0.01 * 100 ** (i / 7) for i in range(8))}


def _one(problem, method: str, steps: int, seed: int, lr: float | None = None):
    if method == "unrolled":
        config = UnrolledConfig(**{**START, "lr": lr or START["lr"]}, lr_bounds=SPACE["lr"],
                                weight_decay_bounds=SPACE["weight_decay"], momentum_bounds=SPACE["momentum"],
                                horizon=HORIZON, hyper_lr=HYPER_LR[method])
        return run_unrolled(problem, config, steps=steps, seed=seed)
    if method == "ift":
        config = IFTConfig(weight_decay=START["weight_decay"], weight_decay_bounds=SPACE["weight_decay"],
                           lr=START["lr"], momentum=START["momentum"], inner_steps=10, neumann_terms=10,
                           neumann_alpha=0.05, hyper_lr=HYPER_LR[method])
        return run_ift(problem, config, steps=steps, seed=seed)
    if method == "hd-sgd":
        return run_hd(problem, optimizer="sgd", lr=lr or START["lr"], momentum=START["momentum"],
                      weight_decay=START["weight_decay"], hyper_lr=HYPER_LR[method], steps=steps, seed=seed)
    return run_hd(problem, optimizer="adam", lr=lr or 1e-3, weight_decay=START["weight_decay"],
                  hyper_lr=HYPER_LR[method], steps=steps, seed=seed)


def gradient(problem, method: str, steps: int, seed: int) -> dict:
    started = time.perf_counter()
    result = _one(problem, method, steps, seed)
    out = {"steps": steps, "val_loss": _finite(result.scores["val_loss"]), "scores": result.scores,
           "hyperparameters": result.hyperparameters, "trajectory": result.trajectory,
           "seconds": time.perf_counter() - started}
    if method in ("unrolled", "hd-sgd"):
        hp = result.hyperparameters
        again = train_fixed(problem, lr=hp["lr"], weight_decay=hp.get("weight_decay", 0.0),
                            momentum=hp.get("momentum", 0.0), steps=steps, seed=seed)
        out["retrain"] = {"steps": 2 * steps, "val_loss": _finite(again.scores["val_loss"]), "scores": again.scores}
    for key, starts in (("multistart", STARTS), ("multistart8", STARTS8)):
        if method not in starts:
            continue
        started = time.perf_counter()
        runs = [_one(problem, method, steps, seed, lr) for lr in starts[method]]
        best = min(runs, key=lambda r: _finite(r.scores["val_loss"]))
        out[key] = {"steps": len(runs) * steps, "val_loss": _finite(best.scores["val_loss"]),
                    "scores": best.scores, "hyperparameters": best.hyperparameters,
                    "seconds": time.perf_counter() - started}
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, color in (("tpe", "C0"), ("random", "C1")):
        runs = [r[name]["curve"] for r in results["seeds"].values()]
        steps = [p["steps"] for p in runs[0]]
        mean = [sum(run[i]["val_loss"] for run in runs) / len(runs) for i in range(len(steps))]
        ax.plot(steps, mean, color=color, ls="-" if name == "tpe" else "--",
                label=f"{name} (best so far, mean of {len(runs)} seeds)")
        ax.fill_between(steps, [min(run[i]["val_loss"] for run in runs) for i in range(len(steps))],
                        [max(run[i]["val_loss"] for run in runs) for i in range(len(steps))], color=color, alpha=0.15)
    markers = {"unrolled": "o", "ift": "s", "hd-sgd": "^", "hd-adam": "v"}
    for i, (method, marker) in enumerate(markers.items()):
        for key, variant, fill in ((method, None, True), (f"{method}+retrain", "retrain", False),
                                   (f"{method} x{len(STARTS.get(method, ()))} starts", "multistart", False),
                                   (f"{method} x8 starts", "multistart8", False)):
            rows = [r[method] if variant is None else r[method].get(variant) for r in results["seeds"].values()]
            if any(row is None for row in rows):
                continue
            values = [row["val_loss"] for row in rows]
            mean = sum(values) / len(values)
            shape = "*" if variant and variant.startswith("multistart") else marker
            ax.errorbar([rows[0]["steps"]], [mean], yerr=[[mean - min(values)], [max(values) - mean]], fmt=shape,
                        color=f"C{i + 2}", mfc=None if fill else "white", label=key, capsize=3)
    best_tpe = sum(r["tpe"]["val_loss"] for r in results["seeds"].values()) / len(results["seeds"])
    ax.axhline(best_tpe * 1.01, color="C0", ls=":", lw=1, label="TPE final best + 1%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.03, 0.5)  # the first random trials (loss up to 1.4) would flatten everything else
    ax.set_xlabel("training steps consumed")
    ax.set_ylabel("validation cross-entropy")
    ax.set_title(f"digits MLP, {results['train_steps']} steps per training run")
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--train-steps", type=int, default=500)
    parser.add_argument("--out", default="docs/hyper")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from OUT/results.json")
    args = parser.parse_args()
    out = Path(args.out)
    if args.plot_only:
        plot(json.loads((out / "results.json").read_text()), out / "hyper_vs_optuna.png")
        return
    torch.set_num_threads(1)
    problem = load_problem("digits", seed=0)
    results = {"trials": args.trials, "train_steps": args.train_steps, "seeds": {}}
    path = out / "results.json"
    if path.exists():  # resume: keep the seeds already measured with the same budget
        done = json.loads(path.read_text())
        if (done["trials"], done["train_steps"]) == (args.trials, args.train_steps):
            results = done
    out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        if str(seed) in results["seeds"]:
            print(f"seed {seed}: already in {path}", flush=True)
            continue
        row = {name: search(problem, name, args.trials, args.train_steps, seed) for name in ("tpe", "random")}
        for method in ("unrolled", "ift", "hd-sgd", "hd-adam"):
            row[method] = gradient(problem, method, args.train_steps, seed)
        results["seeds"][str(seed)] = row
        print(json.dumps({m: round(v["val_loss"], 4) for m, v in row.items()}), flush=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(path)  # after every seed, so an interrupted run keeps what it finished
    plot(results, out / "hyper_vs_optuna.png")


if __name__ == "__main__":
    main()
