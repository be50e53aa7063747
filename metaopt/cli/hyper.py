"""``metaopt hyper``: learn hyperparameters by gradient and log their trajectories to MLflow.

Only argparse-level imports at top level; torch and mlflow load inside the handler.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from metaopt.cli._args import check_tracking, finite_float, positive_float, positive_int, print_json, seed_int
from metaopt.errors import ConfigError

__all__ = ["add_commands", "cmd_hyper"]

EPILOG = """methods:
  unrolled  differentiate the validation loss through K training steps (truncated backprop through
            training) to learn LR, weight decay and momentum of a plain classifier
  ift       implicit differentiation (Neumann-series inverse Hessian): one weight decay per tensor
  hd        hypergradient descent on the LR of SGD (--hd-optimizer sgd) or Adam; with --algorithm it
            is the outer optimiser of meta-training instead
  inner     learned per-layer, per-step inner LRs (and optionally momentum / weight decay) of a
            gradient-based meta-learner, trained by the outer optimiser

examples:
  metaopt hyper --method unrolled --problem digits --steps 500 --horizon 10 --lr 0.05 --lr-bounds 1e-4,2
  metaopt hyper --method ift --problem fashion-mnist --steps 1000 --neumann-terms 20 --json
  metaopt hyper --method hd --hd-optimizer adam --lr 1e-3 --steps 500
  metaopt hyper --method hd --hd-optimizer adam --algorithm maml --benchmark sinusoid --iterations 1000
  metaopt hyper --method inner --algorithm maml --benchmark sinusoid --inner-steps 5 --learn lr,momentum

Each run is one MLflow run (experiment --experiment, store --tracking-uri, default sqlite:///mlflow.db)
with a metric per hyperparameter per step (hp/NAME) and the plot hyperparameters.png."""


def bounds(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(",")
    try:
        if not sep:
            raise ValueError
        values = float(low), float(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (two numbers), got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH (two finite numbers), got {text!r}")
    return values


def weight_decay(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a weight decay >= 0, got {text}")
    return value


def momentum(text: str) -> float:
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a momentum in [0, 1), got {text}")
    return value


def names(text: str) -> tuple[str, ...]:
    found = tuple(part.strip().replace("-", "_") for part in text.split(",") if part.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return found


def add_commands(sub: Any) -> None:
    p = sub.add_parser("hyper", help="learn hyperparameters by gradient (unrolled, IFT, HD, inner-loop)",
                       description="Learn hyperparameters by gradient and log every hyperparameter's trajectory to "
                       "MLflow. Bounds that contradict each other or the initial value exit 2.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=["unrolled", "ift", "hd", "inner"], help="see below")
    g = p.add_argument_group("classifier problem (unrolled, ift, hd)")
    g.add_argument("--problem", default="digits", choices=["digits", "fashion-mnist"], help="dataset (default digits)")
    g.add_argument("--steps", type=positive_int, default=500, help="training steps (default 500)")
    g.add_argument("--batch-size", type=positive_int, default=64, help="minibatch size (default 64)")
    g.add_argument("--hidden", type=positive_int, default=64, help="hidden units of the MLP (default 64)")
    g.add_argument("--val-batch", type=positive_int, help="validation examples per hypergradient (default: all)")
    g = p.add_argument_group("hyperparameters: initial values, bounds, which are learned")
    g.add_argument("--lr", type=positive_float, help="initial learning rate (default 0.05; HD-Adam 1e-3; inner: "
                   "the algorithm's inner_lr)")
    g.add_argument("--lr-bounds", type=bounds, help="LOW,HIGH for the learned rate (LOW > 0)")
    g.add_argument("--weight-decay", type=weight_decay, help="initial weight decay (default 1e-4; inner: not learned)")
    g.add_argument("--weight-decay-bounds", type=bounds, help="LOW,HIGH for learned weight decay (LOW > 0)")
    g.add_argument("--momentum", type=momentum, help="initial momentum (default 0.5 unrolled, 0.9 ift, 0 hd)")
    g.add_argument("--momentum-bounds", type=bounds, help="LOW,HIGH within [0, 1)")
    g.add_argument("--learn", type=names, help="comma list: unrolled any of lr,weight_decay,momentum (default all); "
                   "inner lr plus optionally momentum,weight_decay (default lr)")
    g = p.add_argument_group("method settings")
    g.add_argument("--hyper-lr", type=positive_float, help="step of the hyperoptimiser (Adam on log values; HD: β)")
    g.add_argument("--horizon", type=positive_int, default=10, help="unrolled: K steps per hypergradient (10)")
    g.add_argument("--every", type=positive_int, default=10, help="ift: training steps per hypergradient (10)")
    g.add_argument("--neumann-terms", type=positive_int, default=20, help="ift: Neumann series terms (20)")
    g.add_argument("--neumann-alpha", type=positive_float, default=0.05, help="ift: Neumann step α (0.05)")
    g.add_argument("--shared-decay", action="store_true", help="ift: one weight decay for all tensors")
    g.add_argument("--hd-optimizer", choices=["sgd", "adam"], default="sgd", help="hd: base optimiser (sgd)")
    g.add_argument("--shared-steps", action="store_true", help="inner: one rate for all steps (not per step)")
    g.add_argument("--per-element", action="store_true", help="inner: one rate per weight (Meta-SGD style)")
    g = p.add_argument_group("meta-learning (inner, and hd with --algorithm)")
    g.add_argument("--algorithm", help="gradient-based meta-learner, e.g. maml (required for --method inner)")
    g.add_argument("--benchmark", default="sinusoid", help="benchmark (default sinusoid)")
    g.add_argument("--ways", type=positive_int, help="N-way (classification)")
    g.add_argument("--shots", type=positive_int, help="K-shot")
    g.add_argument("--inner-steps", type=positive_int, help="inner steps")
    g.add_argument("--iterations", type=positive_int, default=500, help="meta-training iterations (500)")
    g.add_argument("--meta-batch", type=positive_int, default=8, help="tasks per outer step (8)")
    g.add_argument("--outer-lr", type=positive_float, help="outer learning rate (default: the algorithm's)")
    g.add_argument("--test-tasks", type=positive_int, default=200, help="fixed meta-test tasks (200)")
    g = p.add_argument_group("output")
    g.add_argument("--seed", type=seed_int, default=0, help="seed for data split, initialisation and batches (0)")
    g.add_argument("--experiment", default="metaopt-hyper", help="MLflow experiment (metaopt-hyper)")
    g.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    g.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.set_defaults(handler=cmd_hyper)


def _classifier(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from metaopt.hyper.ift import IFTConfig
    from metaopt.hyper.problems import load_problem
    from metaopt.hyper.runner import run_hd, run_ift, run_unrolled
    from metaopt.hyper.unrolled import UnrolledConfig

    problem = load_problem(args.problem, seed=args.seed, batch_size=args.batch_size, hidden=args.hidden)
    common = {"steps": args.steps, "seed": args.seed}
    show = not args.no_progress
    given = {k: getattr(args, k) for k in ("lr", "lr_bounds", "weight_decay", "weight_decay_bounds", "momentum",
                                           "momentum_bounds") if getattr(args, k) is not None}
    if args.method == "unrolled":
        cfg = UnrolledConfig(**given, horizon=args.horizon, **_opt(args, "hyper_lr"),
                             **({"learn": args.learn} if args.learn else {}))
        return run_unrolled(problem, cfg, val_batch=args.val_batch, progress=show, **common), vars(cfg)
    if args.method == "ift":
        for flag in ("lr_bounds", "momentum_bounds"):
            if flag in given:
                raise ConfigError(f"--{flag.replace('_', '-')} does not apply to ift (it learns only weight decay)")
        cfg = IFTConfig(**given, inner_steps=args.every, neumann_terms=args.neumann_terms,
                        neumann_alpha=args.neumann_alpha, per_tensor=not args.shared_decay, **_opt(args, "hyper_lr"))
        return run_ift(problem, cfg, val_batch=args.val_batch, progress=show, **common), vars(cfg)
    options = {"optimizer": args.hd_optimizer, "lr": args.lr or (1e-3 if args.hd_optimizer == "adam" else 0.05),
               "weight_decay": args.weight_decay or 0.0, **_opt(args, "hyper_lr")}
    if args.hd_optimizer == "sgd":
        options["momentum"] = args.momentum or 0.0
    return run_hd(problem, progress=show, **options, **common), options


def _opt(args: argparse.Namespace, name: str) -> dict[str, Any]:
    return {} if getattr(args, name) is None else {name: getattr(args, name)}


def _meta(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from metaopt.hyper.runner import run_meta
    from metaopt.runs import RunConfig

    if not args.algorithm:
        raise ConfigError("--method inner needs --algorithm (a gradient-based meta-learner such as maml)")
    learner = {"inner_steps": args.inner_steps} if args.inner_steps else {}
    train = {"iterations": args.iterations, "meta_batch": args.meta_batch, "seed": args.seed,
             "val_every": max(1, args.iterations // 5), "val_tasks": 50, **_opt(args, "outer_lr")}
    config = RunConfig(args.algorithm, args.benchmark, args.ways, args.shots, None, learner, train)
    inner: dict[str, Any] = {}
    if args.method == "inner":
        learn = set(args.learn or ("lr",))
        unknown = learn - {"lr", "momentum", "weight_decay"}
        if unknown or "lr" not in learn:
            raise ConfigError(f"--learn for inner must include lr and may add momentum,weight_decay; got "
                              f"{','.join(sorted(learn))}")
        inner = {"per_step": not args.shared_steps, "per_element": args.per_element, **_opt(args, "lr")}
        inner.update({f"{k}_bounds": getattr(args, f"{k}_bounds") for k in ("lr", "momentum", "weight_decay")
                      if getattr(args, f"{k}_bounds") is not None})
        if "momentum" in learn:
            inner["momentum"] = args.momentum if args.momentum is not None else 0.5
        if "weight_decay" in learn:
            inner["weight_decay"] = args.weight_decay if args.weight_decay is not None else 1e-4
    hd = args.hd_optimizer if args.method == "hd" else None
    result = run_meta(args.method, config, hd=hd, inner_options=inner, test_tasks=args.test_tasks,
                      progress=not args.no_progress, **_opt(args, "hyper_lr"))
    return result, {**config.to_dict(), "inner": inner, "hd": hd}


def cmd_hyper(args: argparse.Namespace) -> int:
    if not args.no_mlflow:
        check_tracking(args.tracking_uri)
    import torch

    torch.manual_seed(args.seed)
    start = time.perf_counter()
    meta = args.method == "inner" or (args.method == "hd" and args.algorithm)
    result, params = _meta(args) if meta else _classifier(args)
    seconds = round(time.perf_counter() - start, 2)
    target = f"{args.algorithm} on {args.benchmark}" if meta else args.problem
    run_id = None
    if not args.no_mlflow:
        run_id = _log(args, result, params, target)
    summary = {"method": args.method, "target": target, "steps": result.steps, "scores": result.scores,
               "hyperparameters": result.hyperparameters, "seconds": seconds, "mlflow_run_id": run_id}
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result.scores.items() if v is not None)
    print(f"{args.method} on {target}: {shown} after {result.steps} steps ({seconds}s)")
    if args.json:
        print_json(summary)
    return 0


def _log(args: argparse.Namespace, result: Any, params: dict[str, Any], target: str) -> str:
    import mlflow

    from metaopt.hyper.tracking import log_trajectory
    from metaopt.tracking import mlflow_run

    flat = {k: str(v)[:500] for k, v in params.items()}
    with mlflow_run(experiment=args.experiment, run_name=f"hyper-{args.method}", tracking_uri=args.tracking_uri,
                    tags={"metaopt.command": "hyper", "metaopt.method": args.method}) as run:
        mlflow.log_params({"method": args.method, "target": target, "seed": args.seed, **flat})
        log_trajectory(result.trajectory, title=f"{args.method} on {target}")
        mlflow.log_metrics({f"final/{k}": float(v) for k, v in result.scores.items() if v is not None})
        return run.info.run_id
