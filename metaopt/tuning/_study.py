"""A study from start to report: storage, parent MLflow run, workers, recovery, final evaluation."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from metaopt.errors import ConfigError
from metaopt.tuning._config import TuneConfig
from metaopt.tuning._loop import budget_used, counts, optimize_within_budget, thread_budget
from metaopt.tuning._objective import Objective
from metaopt.tuning._pruning import make_pruner
from metaopt.tuning._recovery import close_killed_runs, recover_dead_trials
from metaopt.tuning._samplers import make_sampler
from metaopt.tuning._storage import open_storage, redact_url, resolve_storage

__all__ = ["tune", "resolve", "run_worker", "load_study", "metric_names", "budget_used", "thread_budget",
           "optimize_within_budget"]


def resolve(cfg: TuneConfig) -> TuneConfig:
    """Validate ``cfg`` and fill in the study name, shape and algorithms (ConfigError on bad input)."""
    from metaopt.algorithms import get_learner
    from metaopt.evaluation import metric_name
    from metaopt.tasks.benchmarks import get_benchmark
    from search_spaces import get_space, has_space, load_space

    bench = get_benchmark(cfg.benchmark, data_root=cfg.data_root)
    score = metric_name(bench.kind)
    cfg.objectives = list(cfg.objectives or [score])
    cfg.storage = resolve_storage(cfg.storage)  # --storage, else $METAOPT_STORAGE: what workers get in their file
    cfg.validate()
    if bench.kind == "regression" and cfg.ways is not None:
        raise ConfigError(f"benchmark {cfg.benchmark!r} is regression; --ways does not apply")
    if cfg.objectives[0] != score:
        raise ConfigError(f"benchmark {cfg.benchmark!r} is scored by {score}, not {cfg.objectives[0]!r}")
    if isinstance(cfg.space, str):
        load_space(cfg.space)
    elif cfg.space is not None:
        if not callable(cfg.space):
            raise ConfigError(f"space must be module:function or a callable, got {cfg.space!r}")
    elif cfg.algorithms:
        for name in cfg.algorithms:
            if not get_learner(name).kinds & {bench.kind}:
                raise ConfigError(f"algorithm {name!r} cannot handle {bench.kind} benchmark {cfg.benchmark!r}")
            get_space(name)
    else:
        from metaopt.algorithms import available_learners

        cfg.algorithms = [n for n in available_learners() if bench.kind in get_learner(n).kinds and has_space(n)]
    make_pruner(cfg.pruner_name, iterations=cfg.iterations, val_every=cfg.eval_every)
    make_sampler(cfg.sampler, seed=cfg.seed, n_objectives=len(cfg.objectives))
    shots = cfg.shots or bench.default_shots
    ways = (cfg.ways or bench.default_ways) if bench.kind in ("classification", "rl") else None
    cfg.shots, cfg.ways = shots, ways
    if not cfg.study:
        cfg.study = f"tune-{cfg.benchmark.replace(':', '_').replace('/', '_')}-" + (
            f"{ways}w{shots}s" if ways else f"k{shots}")
    return cfg


def _space(cfg: TuneConfig) -> Callable[[Any], dict[str, Any]]:
    from search_spaces import get_space, joint_space, load_space

    if callable(cfg.space):
        return cfg.space
    if cfg.space:
        return load_space(cfg.space)
    if len(cfg.algorithms) == 1:
        return get_space(cfg.algorithms[0])
    return joint_space(cfg.algorithms)


def _directions(cfg: TuneConfig) -> list[str]:
    return ["maximize" if o == "accuracy" else "minimize" for o in cfg.objectives]


def metric_names(cfg: TuneConfig) -> list[str]:
    """The names optuna-dashboard, ``trials_dataframe`` and the plots give the objective values (instead of
    "Objective 0"): the best validation score (``val_accuracy``, ``val_mse``, ``val_regret``) and, with
    ``--objectives ...,time``, the training seconds per meta-iteration."""
    return ["seconds_per_iteration" if o == "time" else f"val_{o}" for o in cfg.objectives]


def _name_metrics(study: optuna.Study, names: list[str]) -> None:
    """Set the study's metric names unless they are set already (a resume writes nothing)."""
    if study.metric_names == names:
        return
    try:
        with warnings.catch_warnings():  # "experimental" in Optuna since 3.2; the names are only labels
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)
    except Exception:
        # Hosts that start at the same moment race to insert the same attribute, a unique key in an RDB
        # storage: the loser's insert fails, and the winner has written the very same names.
        if study.metric_names != names:
            raise


def load_study(cfg: TuneConfig, *, worker: int = 0) -> optuna.Study:
    """Create the study, or load it to resume; refuse one made for another benchmark or objectives."""
    storage = open_storage(cfg.storage, heartbeat_interval=cfg.heartbeat_interval)
    sampler = make_sampler(cfg.sampler, seed=None if cfg.seed is None else cfg.seed + worker,
                           n_objectives=len(cfg.objectives))
    pruner = make_pruner(cfg.pruner_name, iterations=cfg.iterations, val_every=cfg.eval_every)
    study = optuna.create_study(storage=storage, study_name=cfg.study, directions=_directions(cfg),
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    if cfg.seed is not None and study.get_trials(deepcopy=False):
        study.sampler = make_sampler(cfg.sampler, seed=resume_seed(cfg.seed, worker, len(study.trials)),
                                     n_objectives=len(cfg.objectives))
    if [d.name.lower() for d in study.directions] != _directions(cfg):
        raise ConfigError(f"study {cfg.study!r} optimises {len(study.directions)} objective(s); these "
                          f"--objectives need another --study")
    _check_batches(study, cfg)
    for key in ("benchmark", "ways", "shots"):
        saved, wanted = study.user_attrs.get(key), getattr(cfg, key)
        if saved is not None and wanted is not None and saved != wanted:
            raise ConfigError(f"study {cfg.study!r} was made for {key}={saved}, not {wanted}; choose another --study")
    kept = _kept_options(cfg)
    for key, wanted in kept.items():
        saved = study.user_attrs.get(key)
        if saved is not None and saved != wanted:  # None: a study made before these were kept
            flag = f"--{key}"
            raise ConfigError(f"study {cfg.study!r} was run with {flag} {saved}, not {wanted}: resume it with "
                              f"{flag} {saved}, or choose another --study")
    # after the checks: a refused study is left as it was
    for key, wanted in kept.items():
        _set_once(study, key, wanted)
    _name_metrics(study, metric_names(cfg))
    return study


def resume_seed(seed: int, worker: int, trials: int) -> int:
    """The sampler's seed for ``worker`` on a study that holds ``trials`` trials already. A resumed study
    seeded as a new one would draw the parameters of its first trials again (a random sampler, TPE's
    start-up trials): the count of trials so far goes into the seed, so the same command on the same
    study still draws the same numbers."""
    import numpy as np

    return int(np.random.SeedSequence([seed % 2**64, worker, trials]).generate_state(1)[0])


def _kept_options(cfg: TuneConfig) -> dict[str, Any]:
    """What a resumed study must be run with again: the trials so far were trained for these iterations
    (what the pruner compares at each step) and sampled from this space (an algorithm choice that changes
    is a categorical distribution Optuna cannot continue). A space given as a Python callable is not kept."""
    kept: dict[str, Any] = {"iterations": cfg.iterations}
    if isinstance(cfg.space, str):
        kept["algorithms"] = cfg.space
    elif cfg.space is None:
        kept["algorithms"] = ",".join(cfg.algorithms)
    return kept


def _set_once(study: optuna.Study, key: str, value: Any) -> None:
    """Set a study user attr unless it holds ``value`` already; hosts that start at the same moment may race
    to insert it (a unique key in an RDB storage), and the loser finds the winner's same value."""
    if study.user_attrs.get(key) == value:
        return
    try:
        study.set_user_attr(key, value)
    except Exception:
        if study.user_attrs.get(key) != value:
            raise


def _check_batches(study: optuna.Study, cfg: TuneConfig) -> None:
    """A --reproducible study stays one (same batch size); a free study cannot become one."""
    saved = study.user_attrs.get("reproducible_batch_size")
    if cfg.reproducible:
        if saved is None and study.get_trials(deepcopy=False):
            raise ConfigError(f"study {cfg.study!r} has trials not run in batches; --reproducible needs a new --study")
        if saved is not None and saved != cfg.batch_size:
            raise ConfigError(f"study {cfg.study!r} was run with --batch-size {saved}, not {cfg.batch_size}")
        if saved is None:
            study.set_user_attr("reproducible_batch_size", cfg.batch_size)
    elif saved is not None:
        raise ConfigError(f"study {cfg.study!r} is reproducible: add --reproducible --batch-size {saved}")


def run_worker(cfg: TuneConfig, *, worker: int = 0, parent_run_id: str | None = None,
               status_dir: str | Path | None = None) -> int:
    """Run trials on the study until the budget is spent; return how many this worker ran. With
    ``status_dir`` (a worker process), the running trial's progress goes to ``worker-N.json`` there."""
    import torch

    from metaopt.trainer import TrainingDiverged
    from metaopt.tuning._progress import StudyProgress, write_status

    # --reproducible: one thread, so float sums are added in the same order whatever the worker count
    torch.set_num_threads(1 if cfg.reproducible else thread_budget(cfg.workers))
    study = load_study(cfg, worker=worker)
    board = StudyProgress(cfg.study or "", total=cfg.trials, initial=budget_used(study)[0],
                          enabled=cfg.progress and status_dir is None)
    sink: Callable[[dict[str, Any]], None] = board
    if status_dir is not None:
        path = Path(status_dir) / f"worker-{worker}.json"
        sink = lambda status: write_status(path, status)  # noqa: E731
    objective = Objective(cfg, _space(cfg), study_dir=Path(cfg.runs_dir) / cfg.study, parent_run_id=parent_run_id,
                          progress=sink)
    if cfg.reproducible:
        from metaopt.tuning._batches import optimize_in_batches

        lock = Path(status_dir) / "batches.lock" if status_dir is not None else None
        ran = optimize_in_batches(study, objective, space=objective.space, sampler=cfg.sampler, seed=cfg.seed,
                                  batch_size=cfg.batch_size, trials=int(cfg.trials or 0), progress=board,
                                  catch=(TrainingDiverged,), lock=lock)
    else:
        ran = optimize_within_budget(study, objective, trials=cfg.trials, timeout=cfg.timeout, progress=board,
                                     catch=(TrainingDiverged,))
    sink({"trial": None})
    return ran


def _best(study: optuna.Study, n_objectives: int) -> FrozenTrial | None:
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    if n_objectives == 1:
        return study.best_trial
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
    return max(study.best_trials, key=lambda t: sign * t.values[0])


def _evaluate_best(cfg: TuneConfig, best: FrozenTrial) -> Any:
    """Mean ± 95% CI of the best trial on the fixed test tasks: from its kept checkpoint, or retrained."""
    from metaopt.runs import RunConfig, build_run, load_run, save_run_config

    run_dir = Path(best.user_attrs.get("run_dir", ""))
    if (run_dir / "checkpoint.pt").is_file():
        run = load_run(run_dir)
        trainer = run.trainer(None, progress=cfg.progress, device=cfg.device, engine=cfg.engine,
                              inner_checkpoint=cfg.checkpoint_for(run.learner))
    else:  # tuned on another machine: retrain it here with the same config and seed
        run = build_run(RunConfig.from_dict(best.user_attrs["run_config"]))
        save_run_config(run_dir, run.config)  # the model registered next is loaded from this folder
        trainer = run.trainer(run_dir, progress=cfg.progress, device=cfg.device, engine=cfg.engine,
                              inner_checkpoint=cfg.checkpoint_for(run.learner))
        trainer.fit()
        trainer.use_best()
    return trainer.evaluate("test", cfg.test_tasks)


def tune(cfg: TuneConfig) -> dict[str, Any]:
    """Run (or resume) the study described by ``cfg`` and return its summary (see ``TuneResult`` keys
    in the package docstring)."""
    from metaopt.tracking import log_eval_result, mlflow_run

    cfg = resolve(cfg)
    started = time.perf_counter()
    if cfg.reproducible:  # the final evaluation too runs on one thread (see run_worker)
        import torch

        torch.set_num_threads(1)
    study = load_study(cfg)
    bench_meta = {"benchmark": cfg.benchmark, "ways": cfg.ways, "shots": cfg.shots, "metric": cfg.objectives[0]}
    for key, value in bench_meta.items():
        study.set_user_attr(key, value)
    from metaopt.tracking import resolve_tracking_uri
    from metaopt.tuning._parent import parent_run_id

    tags = {"optuna_study": cfg.study, "benchmark": cfg.benchmark}
    parent_id, created = parent_run_id(study, study_name=cfg.study, tracking_uri=resolve_tracking_uri(cfg.tracking_uri),
                                       tags=tags)
    with mlflow_run(experiment=cfg.study, run_name=cfg.study, tracking_uri=cfg.tracking_uri, run_id=parent_id,
                    tags=tags) as parent:
        import mlflow

        if created:
            from metaopt.tuning._storage import public_config

            mlflow.log_params({k: str(v)[:500] for k, v in public_config(cfg.to_dict()).items() if k != "progress"})
        recover_dead_trials(study)
        close_killed_runs(study, cfg.tracking_uri)
        died = None
        if cfg.workers == 1:
            run_worker(cfg, parent_run_id=parent.info.run_id)
        else:
            from metaopt.tuning._workers import WorkerDied, spawn_workers

            try:
                spawn_workers(cfg, study, parent.info.run_id)
            except WorkerDied as exc:  # recorded, then raised once the runs are closed
                died = exc
                mlflow.set_tag("workers_died", str(exc)[:250])
        recover_dead_trials(study)
        close_killed_runs(study, cfg.tracking_uri)
        summary = summarize(study, cfg)
        best = None if died else _best(study, len(cfg.objectives))
        if best is not None:
            if study.user_attrs.get("best_trial") != best.number or "best_test_mean" not in study.user_attrs:
                result = _evaluate_best(cfg, best)
                study.set_user_attr("best_test_mean", result.mean)
                study.set_user_attr("best_test_ci95", result.ci95)
                study.set_user_attr("best_test_tasks", result.n_tasks)
                study.set_user_attr("best_trial", best.number)
                log_eval_result(result, "test")
                mlflow.set_tags({"best_trial": best.number, "best_algorithm": best.user_attrs.get("algorithm")})
                # RL policies (metric regret) have no pyfunc model (they act in environments, not on inputs).
                if cfg.register_model and best.user_attrs.get("metric") != "regret":
                    from metaopt.tracking import log_learner_model

                    log_learner_model(best.user_attrs["run_dir"], registered_name=cfg.study)
            summary.update(best_trial=best.number, algorithm=best.user_attrs.get("algorithm"), params=best.params,
                           best_val=best.values[0], test_mean=study.user_attrs["best_test_mean"],
                           test_ci95=study.user_attrs["best_test_ci95"], test_tasks=study.user_attrs.get(
                               "best_test_tasks", cfg.test_tasks))
    if died is not None:
        raise died
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def summarize(study: optuna.Study, cfg: TuneConfig) -> dict[str, Any]:
    """Counts by state, compute spent, and (several objectives) the Pareto front."""
    trials = study.get_trials(deepcopy=False)
    states = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    summary: dict[str, Any] = {
        "study": cfg.study, "storage": redact_url(resolve_storage(cfg.storage)), "benchmark": cfg.benchmark,
        "ways": cfg.ways, "shots": cfg.shots, "metric": cfg.objectives[0], "objectives": cfg.objectives,
        "sampler": cfg.sampler, "pruner": cfg.pruner_name, "workers": cfg.workers,
        "trials": len(trials), "states": states, "trials_budget": cfg.trials, "trial_counts": counts(trials),
        "iterations_spent": sum(int(t.user_attrs.get("iterations_run", 0)) for t in trials),
        "iterations_per_trial": cfg.iterations,
        "mlflow_parent_run_id": study.user_attrs.get("mlflow_parent_run_id"),
        "best_trial": None,
    }
    if len(cfg.objectives) > 1:
        summary["pareto_front"] = [
            {"number": t.number, "values": t.values, "algorithm": t.user_attrs.get("algorithm"), "params": t.params}
            for t in sorted(study.best_trials, key=lambda t: t.number)
        ]
    return summary
