"""One trial: sample a configuration, meta-train it under an MLflow child run, report, prune."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from metaopt.errors import ConfigError
from metaopt.evaluation import metric_name
from metaopt.tuning._config import TRAIN_KEYS, TuneConfig
from metaopt.tuning._pruning import PruningCallback
from metaopt.tuning._storage import worker_identity

__all__ = ["Objective", "trial_run_config"]


def trial_run_config(cfg: TuneConfig, params: dict[str, Any], default_algorithm: str) -> Any:
    """The ``RunConfig`` of a trial: the space's values split into learner and outer-loop keys."""
    from metaopt.runs import RunConfig

    params = dict(params)
    algorithm = params.pop("algorithm", default_algorithm)
    train = {k: v for k, v in params.items() if k in TRAIN_KEYS}
    learner = {k: v for k, v in params.items() if k not in TRAIN_KEYS}
    train.update(iterations=cfg.iterations, val_every=cfg.eval_every, val_tasks=cfg.val_tasks, seed=cfg.seed)
    return RunConfig(algorithm, cfg.benchmark, cfg.ways, cfg.shots, cfg.queries, learner, train, cfg.data_root)


class Objective:
    """``objective(trial)`` for ``study.optimize``.

    Every trial trains with the study's seed, so trials differ only by their hyperparameters. The
    trial's run directory keeps its best checkpoint only if it completes (the best trial is then
    evaluated from it, not retrained); a pruned or failed trial's directory is removed.
    """

    def __init__(self, cfg: TuneConfig, space: Callable[[Any], dict[str, Any]], *, study_dir: Path,
                 parent_run_id: str | None, progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.cfg = cfg
        self.progress = progress
        self.space = space
        self.study_dir = study_dir
        self.parent_run_id = parent_run_id

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        from metaopt.runs import build_run, save_run_config
        from metaopt.tracking import MLflowCallback, log_run_config, mlflow_run

        trial.set_user_attr("worker", worker_identity())  # first: a worker dying while it builds is found too
        default = self.cfg.algorithms[0] if len(self.cfg.algorithms) == 1 else ""
        config = trial_run_config(self.cfg, self.space(trial), default)
        if not config.algorithm:
            raise ConfigError("the search space chose no algorithm: return an 'algorithm' key")
        run = build_run(config)
        metric = metric_name(run.learner.kind)
        run_dir = self.study_dir / f"trial-{trial.number:04d}"
        if run_dir.exists():  # a leftover of a killed attempt with this number: start clean
            shutil.rmtree(run_dir)
        save_run_config(run_dir, run.config)
        for key, value in (("algorithm", config.algorithm), ("metric", metric), ("worker", worker_identity()),
                           ("run_dir", str(run_dir)), ("run_config", run.config.to_dict())):
            trial.set_user_attr(key, value)
        tags = {"algorithm": config.algorithm, "trial_number": trial.number, "trial_state": "RUNNING",
                "optuna_study": self.cfg.study}
        pruned: optuna.TrialPruned | None = None
        with mlflow_run(experiment=self.cfg.study or "metaopt-tune", run_name=f"trial-{trial.number}",
                        tracking_uri=self.cfg.tracking_uri, parent_run_id=self.parent_run_id, tags=tags) as mlrun:
            import mlflow

            trial.set_user_attr("mlflow_run_id", mlrun.info.run_id)
            log_run_config(run.config)
            callbacks = [PruningCallback(trial, report=len(self.cfg.objectives) == 1),
                         MLflowCallback(log_every=max(1, self.cfg.eval_every // 2))]
            if self.progress is not None:
                from metaopt.tuning._progress import TrialProgress

                callbacks.append(TrialProgress(self.progress, trial=trial.number, iterations=self.cfg.iterations,
                                               metric=metric))
            trainer = run.trainer(run_dir, callbacks=callbacks, progress=False, device=self.cfg.device,
                                  engine=self.cfg.engine, inner_checkpoint=self.cfg.checkpoint_for(run.learner))
            try:
                state = trainer.fit().state
                if state.best is None or not math.isfinite(state.best):
                    from metaopt.trainer import TrainingDiverged

                    raise TrainingDiverged(f"validation {metric} is {state.best}")
            except KeyboardInterrupt:
                # Ctrl-C: the trial did not fail, it was stopped; the loop around it enqueues its retry
                mlflow.set_tag("trial_state", "KILLED")
                shutil.rmtree(run_dir, ignore_errors=True)
                raise
            except optuna.TrialPruned as exc:
                pruned = exc
                trial.set_user_attr("iterations_run", trainer.state.iteration)
                mlflow.set_tags({"trial_state": "PRUNED", "pruned_at": trainer.state.iteration})
            except Exception as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {reason}")
                trial.set_user_attr("iterations_run", trainer.state.iteration)
                mlflow.set_tag("trial_state", "FAILED")
                mlflow.set_tag("fail_reason", reason[:250])
                shutil.rmtree(run_dir, ignore_errors=True)
                raise
            else:
                trial.set_user_attr("iterations_run", state.iteration)
                trial.set_user_attr("train_seconds", state.train_seconds)
                mlflow.set_tag("trial_state", "COMPLETE")
        if pruned is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise pruned
        if len(self.cfg.objectives) == 1:
            return float(state.best)
        return float(state.best), state.train_seconds / max(1, state.iteration)
