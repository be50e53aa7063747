"""What each ``metaopt`` subcommand does (the parser lives in ``metaopt.cli``)."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

from metaopt.checkpoint import CONFIG_FILE, read_json, write_json
from metaopt.cli import default_out, elapsed, fail, print_json
from metaopt.errors import ConfigError

__all__ = ["cmd_list", "cmd_train", "cmd_evaluate"]


def cmd_list(args: argparse.Namespace) -> int:
    if args.what == "benchmarks":
        from metaopt.tasks.benchmarks import BENCHMARK_HELP

        rows = [{"name": k, "description": v} for k, v in BENCHMARK_HELP.items()]
    else:
        from metaopt.algorithms import available_learners, get_learner

        rows = []
        for name in available_learners():
            cls = get_learner(name)
            doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
            defaults = {f.name: f.default for f in dataclasses.fields(cls.Config)}
            rows.append({"name": name, "kinds": sorted(cls.kinds), "description": doc, "defaults": defaults})
    if args.json:
        print_json({"items": rows})
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            print(f"{r['name']:<{width}}  {r['description']}")
    return 0


def _run_config(args: argparse.Namespace):
    from metaopt.runs import RunConfig

    learner = dict(args.param)
    for flag, key in (("inner_lr", "inner_lr"), ("inner_steps", "inner_steps"), ("first_order", "first_order"),
                      ("eval_inner_steps", "eval_inner_steps"), ("inner_optimizer", "inner_optimizer")):
        if getattr(args, flag) is not None:
            learner[key] = getattr(args, flag)
    train = {"seed": args.seed}
    for key in ("iterations", "meta_batch", "outer_lr", "grad_clip", "val_every", "val_tasks", "patience"):
        if getattr(args, key) is not None:
            train[key] = getattr(args, key)
    return RunConfig(args.algorithm, args.benchmark, args.ways, args.shots, args.queries, learner, train,
                     args.data_root)


def cmd_train(args: argparse.Namespace) -> int:
    from metaopt.runs import build_run, save_run_config
    from metaopt.trainer import TrainingDiverged

    start = time.perf_counter()
    run = build_run(_run_config(args))
    cfg = run.config
    out = Path(args.out) if args.out else default_out(cfg.algorithm, cfg.benchmark, cfg.ways, cfg.shots,
                                                      run.train_config.seed)
    if (out / CONFIG_FILE).exists():
        if args.overwrite:
            shutil.rmtree(out)
        else:
            from metaopt.runs import RunConfig, normalized

            try:
                saved = normalized(RunConfig.from_dict(read_json(out / CONFIG_FILE)))
            except ConfigError:
                saved = {}
            differing = [k for k, v in normalized(cfg).items() if saved.get(k) != v]
            if differing:
                raise ConfigError(f"--out {out} holds a different run ({', '.join(differing)} differ); "
                                  "pass --overwrite or choose another --out")
    save_run_config(out, cfg)
    from metaopt.tracking._train import train_tracking

    track = bool(args.track or args.tracking_uri or args.experiment or args.register_model)
    with train_tracking(cfg, out, enabled=track, tracking_uri=args.tracking_uri, experiment=args.experiment,
                        register=args.register_model) as tracking:
        trainer = run.trainer(out, progress=not args.no_progress, callbacks=tracking.callbacks, device=args.device)
        resumed = (out / "checkpoint.pt").exists()
        try:
            state = trainer.fit().state
        except TrainingDiverged as exc:
            fail(f"training diverged: {exc}", code=1)
        trainer.use_best()
        result = trainer.evaluate("test", args.test_tasks)
        summary = {
            "algorithm": cfg.algorithm, "benchmark": cfg.benchmark, "ways": cfg.ways, "shots": cfg.shots,
            "queries": cfg.queries, "metric": result.metric, "mean": result.mean, "ci95": result.ci95,
            "test_tasks": result.n_tasks, "diverged_tasks": result.diverged,
            "iterations": state.iteration, "best_iteration": state.best_iteration,
            "best_val": state.best, "stopped_early": state.stopped_early, "resumed": resumed,
            "train_seconds": round(state.train_seconds, 2), "seconds": elapsed(start), "out": str(out),
        }
        tracking.finish(result, summary, out)
    write_json(out / "results.json", summary)
    print(f"{cfg.algorithm} on {cfg.benchmark}: {result}  (best validation at iteration {state.best_iteration}; "
          f"run in {out})")
    if args.json:
        print_json(summary)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from metaopt.runs import load_run

    start = time.perf_counter()
    run = load_run(args.checkpoint)
    trainer = run.trainer(None, progress=not args.no_progress, device=args.device)
    result = trainer.evaluate(args.split, args.tasks, steps=args.steps)
    cfg = run.config
    print(f"{cfg.algorithm} on {cfg.benchmark} ({args.split}): {result}")
    if args.json:
        print_json({
            "algorithm": cfg.algorithm, "benchmark": cfg.benchmark, "ways": cfg.ways, "shots": cfg.shots,
            "metric": result.metric, "mean": result.mean, "ci95": result.ci95, "tasks": result.n_tasks,
            "steps": args.steps, "split": args.split, "diverged_tasks": result.diverged, "seconds": elapsed(start),
        })
    return 0
