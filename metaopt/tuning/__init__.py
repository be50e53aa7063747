"""Tuning meta-learners with Optuna: the study behind ``metaopt tune``.

``tune(TuneConfig(...))`` creates or resumes a study (storage: :mod:`._storage`), opens one parent
MLflow run per study (experiment = study name) and one nested child run per trial, runs the trials
in this process or in ``workers`` processes, recovers trials of dead workers, evaluates the best
trial on the fixed meta-test tasks and returns a summary dict (the CLI's ``--json``).

Contract with the report (``metaopt report``) and tracking halves; read by them, keep it stable:

- per trial, Optuna user attrs: ``algorithm``, ``metric`` (``accuracy`` | ``mse``), ``val_mean``,
  ``val_ci95``, ``val_scores`` (per-task scores of the best validation, on the fixed validation
  tasks), ``iterations_run``, ``mlflow_run_id``, ``fail_reason`` (a trial that failed by itself:
  NaN/inf loss or an error), ``pruned_at`` (the iteration). Additions: ``val_scores_by_step``
  (``{"<iteration>": [per-task scores]}``, what the Wilcoxon pruner pairs), ``run_config`` (the
  trial's full ``RunConfig`` dict), ``run_dir``, ``train_seconds`` and ``worker`` (``host:pid``).
  Intermediate values: ``trial.report(val_mean, step=iteration)`` at every validation.
- A trial FAILED because its worker died has no ``fail_reason``; Optuna's
  ``RetryHeartbeatStaleTrialCallback`` enqueues a copy whose system attr ``failed_trial`` names it.
- study user attrs: ``benchmark``, ``ways``, ``shots``, ``metric``, ``mlflow_parent_run_id``; after
  the final evaluation ``best_test_mean``, ``best_test_ci95``, ``best_test_tasks``, ``best_trial``.
- MLflow child runs carry tags ``algorithm``, ``trial_number``, ``trial_state``
  (COMPLETE / PRUNED / FAILED / KILLED), ``pruned_at``; pruned runs end FINISHED, failed FAILED,
  killed KILLED (closed by the next ``tune`` on the study).
"""

from metaopt.tuning._config import OBJECTIVES, TRAIN_KEYS, TuneConfig
from metaopt.tuning._loop import budget_used, counts, describe_counts
from metaopt.tuning._pruning import PRUNERS, PruningCallback, TaskWilcoxonPruner, make_pruner
from metaopt.tuning._recovery import close_killed_runs, recover_dead_trials
from metaopt.tuning._samplers import SAMPLERS, make_sampler
from metaopt.tuning._storage import DEFAULT_STORAGE, open_storage
from metaopt.tuning._study import load_study, optimize_within_budget, resolve, run_worker, tune
from metaopt.tuning._workers import EXIT_WORKER_DIED, WorkerDied

__all__ = [
    "TuneConfig", "OBJECTIVES", "TRAIN_KEYS", "PRUNERS", "SAMPLERS", "DEFAULT_STORAGE",
    "tune", "resolve", "run_worker", "load_study", "optimize_within_budget", "open_storage", "make_sampler",
    "make_pruner",
    "budget_used", "counts", "describe_counts", "EXIT_WORKER_DIED", "WorkerDied",
    "TaskWilcoxonPruner", "PruningCallback", "recover_dead_trials", "close_killed_runs",
]
