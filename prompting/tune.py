"""Tuning a selector's own hyperparameters with metaopt's Optuna harness: the study behind ``metaopt prompt tune``.

The same harness as ``metaopt tune`` (:mod:`metaopt.tuning`): storage (SQLite by default, any SQLAlchemy
URL or a journal file), seeded samplers, pruners, the budget loop that resumes a study and recovers dead
workers' trials, one MLflow parent run per study and a child run per trial, and the study/trial attrs
that ``metaopt report`` reads. What differs is the trial: instead of meta-training a learner it scores one
point of ``search_spaces.prompt_selector`` on the family's *validation* classes (the same tasks and
queries for every trial, so trials differ only by their hyperparameters), reporting the running mean
after every task so a pruner can stop a hopeless point early. The best point is then scored on held-out
*test* tasks, beside the selector's default hyperparameters and kNN (at the best point's k) on the same
tasks, with both differences paired by task.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from metaopt.errors import ConfigError
from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.tasks.base import TaskFamily

__all__ = ["TUNABLE", "PromptTuneConfig", "tune_selector", "open_prompt_study"]

TUNABLE: tuple[str, ...] = ("learned", "meta", "bootstrap")  # selectors with hyperparameters beyond k
DEFAULT_K = 4  # the default point's k: the issue's headline k, and selector_scores' default


@dataclass
class PromptTuneConfig:
    """One study. ``tasks`` validation tasks per seed score each trial; ``test_tasks`` test tasks per seed
    score the best point (and the defaults). ``fixed`` holds values that are not searched: a key of the
    space (``k``, ``steps``) is fixed instead of sampled; any other key (``train_queries``) is passed to
    the selector as is."""

    family: str
    selector: str = "learned"
    trials: int | None = None
    timeout: float | None = None
    tasks: int = 2
    test_tasks: int = 5
    seeds: tuple[int, ...] = (0,)
    ways: int = 4
    pool_per_class: int = 8
    queries_per_class: int = 2
    fixed: dict[str, Any] = field(default_factory=dict)
    sampler: str = "tpe"
    pruner: str = "none"
    storage: str | None = None
    study: str | None = None
    tracking_uri: str | None = None
    model: str = "model"  # the LM's name: part of the protocol, so a study cannot mix two LMs
    baseline: bool = True  # also score the default hyperparameters on the test tasks
    progress: bool = True

    def validate(self) -> None:
        from metaopt.tuning import PRUNERS, SAMPLERS

        if self.selector not in TUNABLE:
            raise ConfigError(f"selector {self.selector!r} has no hyperparameters to tune; choose from "
                              f"{', '.join(TUNABLE)}")
        if self.trials is None and self.timeout is None:
            raise ConfigError("give a budget: --trials N or --timeout SECONDS")
        if self.trials is not None and self.trials < 1:
            raise ConfigError(f"--trials must be a positive integer, got {self.trials}")
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigError(f"--timeout must be positive, got {self.timeout}")
        if min(self.tasks, self.test_tasks, self.ways, self.pool_per_class, self.queries_per_class) < 1:
            raise ConfigError("tasks, test tasks, ways, pool and queries must be positive")
        if not self.seeds:
            raise ConfigError("need at least one seed")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r}; choose from {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"unknown pruner {self.pruner!r}; choose from {', '.join(PRUNERS)}")
        self._check_fixed()
        if not self.study:
            self.study = f"prompt-{self.family.replace(':', '_').replace('/', '_')}-{self.selector}"

    def _check_fixed(self) -> None:
        """A --param must be a key of the space or of the selector (a typo would be silently ignored), and
        valid: the selector is built once with the fixed values so a bad one fails before any trial."""
        import inspect

        from prompting.selectors import SELECTORS, make_selector

        known = {"k", "calibrate"}  # calibrate=true: contextual calibration of every prompt (not searched)
        known |= set(inspect.signature(SELECTORS[self.selector].__init__).parameters) - {"self", "scorer", "report"}
        for key, value in self.fixed.items():
            if key not in known:
                raise ConfigError(f"--param {key}: not a hyperparameter of the {self.selector} selector; use "
                                  f"{', '.join(sorted(known))}")
            if key == "k" and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"--param k must be a positive integer, got {value!r}")
        try:
            make_selector(self.selector, **{k: v for k, v in self.fixed.items() if k not in ("k", "calibrate")})
        except TypeError as exc:
            raise ConfigError(f"--param: {exc}") from None

    def protocol(self) -> dict[str, Any]:
        """What makes two trials' validation scores comparable; a study refuses to resume under another."""
        return {"family": self.family, "selector": self.selector, "tasks": self.tasks, "seeds": list(self.seeds),
                "ways": self.ways, "pool_per_class": self.pool_per_class,
                "queries_per_class": self.queries_per_class, "fixed": dict(sorted(self.fixed.items())),
                "model": self.model}

    def sizes(self) -> dict[str, int]:
        return {"ways": self.ways, "pool_per_class": self.pool_per_class, "queries_per_class": self.queries_per_class}


def open_prompt_study(cfg: PromptTuneConfig) -> Any:
    """Create the study or load it to resume (ConfigError for unreachable storage or another protocol)."""
    import optuna

    from metaopt.tuning import make_pruner, make_sampler, open_storage

    cfg.validate()
    storage = open_storage(cfg.storage)
    sampler = make_sampler(cfg.sampler, seed=cfg.seeds[0])
    pruner = make_pruner(cfg.pruner, iterations=cfg.tasks * len(cfg.seeds), val_every=1)
    study = optuna.create_study(storage=storage, study_name=cfg.study, direction="maximize", sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    saved, wanted = study.user_attrs.get("prompt_protocol"), cfg.protocol()
    if saved is not None and saved != wanted:
        key = next(k for k in wanted if saved.get(k) != wanted[k])
        raise ConfigError(f"study {cfg.study!r} was made for {key}={saved.get(key)}, not {wanted[key]}; "
                          "choose another --study")
    if saved is None and study.user_attrs.get("benchmark") is not None:
        raise ConfigError(f"study {cfg.study!r} tunes meta-learners (metaopt tune); choose another --study")
    for key, value in (("prompt_protocol", wanted), ("benchmark", f"prompt:{cfg.family}"), ("ways", cfg.ways),
                       ("shots", cfg.fixed.get("k")), ("metric", "accuracy"), ("selector", cfg.selector)):
        study.set_user_attr(key, value)
    from metaopt.tuning._study import _name_metrics  # the one place metaopt names a study's objectives

    _name_metrics(study, ["val_accuracy"])  # optuna-dashboard then says val_accuracy, not "Objective 0"
    return study


def _space(cfg: PromptTuneConfig) -> Any:
    from search_spaces import with_fixed
    from search_spaces.prompt_selector import selector_space

    searched = with_fixed(selector_space(cfg.selector), cfg.fixed)
    return lambda trial: {**cfg.fixed, **searched(trial)}


class _Objective:
    """One trial: sample a point, score it task by task on the validation classes under an MLflow child run."""

    def __init__(self, cfg: PromptTuneConfig, *, family: TaskFamily, lm: LabelScorer, encoder: TextEncoder,
                 parent_run_id: str) -> None:
        self.cfg, self.family, self.lm, self.encoder = cfg, family, lm, encoder
        self.parent_run_id = parent_run_id
        self.space = _space(cfg)

    def __call__(self, trial: Any) -> float:
        import mlflow
        import optuna

        from metaopt.stats import ci_or_none, mean_ci95
        from metaopt.tracking import mlflow_run
        from metaopt.tuning._storage import worker_identity
        from prompting.comparison import selector_scores

        params = self.space(trial)
        for key, value in (("algorithm", self.cfg.selector), ("metric", "accuracy"), ("worker", worker_identity()),
                           ("selector_params", params)):
            trial.set_user_attr(key, value)
        by_step: dict[str, list[float]] = {}

        def report(scores: list[float]) -> None:
            step = len(scores)
            by_step[str(step)] = scores
            trial.set_user_attr("val_scores_by_step", by_step)
            trial.set_user_attr("iterations_run", step)
            mean = sum(scores) / step
            mlflow.log_metric("val_accuracy", mean, step=step)
            trial.report(mean, step=step)
            if trial.should_prune():
                trial.set_user_attr("pruned_at", step)
                mlflow.set_tags({"trial_state": "PRUNED", "pruned_at": step})
                raise optuna.TrialPruned(f"pruned after {step} validation tasks")

        tags = {"algorithm": self.cfg.selector, "trial_number": trial.number, "trial_state": "RUNNING",
                "optuna_study": self.cfg.study, "metaopt.command": "prompt tune"}
        started = time.perf_counter()
        pruned: optuna.TrialPruned | None = None  # raised after the run ends, so the run ends FINISHED
        with mlflow_run(experiment=self.cfg.study, run_name=f"trial-{trial.number}",
                        tracking_uri=self.cfg.tracking_uri, parent_run_id=self.parent_run_id, tags=tags) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            mlflow.log_params({k: str(v) for k, v in params.items()})
            try:
                scores = selector_scores(params, family=self.family, lm=self.lm, encoder=self.encoder,
                                         selector=self.cfg.selector, split="val", tasks=self.cfg.tasks,
                                         seeds=self.cfg.seeds, on_task=report, **self.cfg.sizes())
            except optuna.TrialPruned as exc:
                pruned = exc
            except Exception as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {reason}")
                mlflow.set_tags({"trial_state": "FAILED", "fail_reason": reason[:250]})
                raise
            else:
                mean, ci = mean_ci95(scores)
                ci = ci_or_none(ci)  # one validation task: no interval
                for key, value in (("val_mean", mean), ("val_ci95", ci), ("val_scores", scores),
                                   ("train_seconds", round(time.perf_counter() - started, 2))):
                    trial.set_user_attr(key, value)
                mlflow.log_metrics({"val_mean": mean} if ci is None else {"val_mean": mean, "val_ci95": ci})
                mlflow.set_tag("trial_state", "COMPLETE")
        if pruned is not None:
            raise pruned
        return mean


def _evaluate(cfg: PromptTuneConfig, study: Any, best: Any, **parts: Any) -> None:
    """Score the best point, and once per study the defaults, on the same test tasks; keep per-task scores
    in the study's user attrs (so the gain over the defaults is paired by task) and log them to the parent."""
    import mlflow

    from metaopt.stats import ci_or_none, mean_ci95
    from prompting.comparison import selector_scores

    def score(params: dict[str, Any], prefix: str) -> dict[str, Any]:
        scores = selector_scores(params, selector=cfg.selector, split="test", tasks=cfg.test_tasks,
                                 seeds=cfg.seeds, **parts, **cfg.sizes())
        mean, ci = mean_ci95(scores)
        # one test task has no interval: None (printed as such), never a misleading 0.0
        return {f"{prefix}_mean": mean, f"{prefix}_ci95": ci_or_none(ci), f"{prefix}_scores": scores}

    attrs = {**score(best.user_attrs["selector_params"], "best_test"), "best_trial": best.number}
    if cfg.baseline and "default_test_mean" not in study.user_attrs:
        default = {"k": DEFAULT_K, **cfg.fixed}
        attrs.update(score(default, "default_test"), default_params=default)
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    mlflow.log_metrics({f"{key.removeprefix('best_')}": value for key, value in attrs.items()
                        if key.endswith(("_mean", "_ci95")) and value is not None})
    mlflow.set_tags({"best_trial": best.number, "best_params": str(best.params)[:500]})


def _knn_baseline(cfg: PromptTuneConfig, study: Any, best: Any, **parts: Any) -> None:
    """kNN, the retriever ``learned`` and ``meta`` start from, at the best point's k and calibration on the
    same test tasks: whether tuning was worth it is the paired difference to it. Scores are kept per
    (k, calibration) in the study, so a later best trial with a k already seen costs no LM calls."""
    import mlflow

    from prompting.comparison import selector_scores

    point = _knn_point(best)
    key, knn = _knn_key(point), dict(study.user_attrs.get("knn_test_scores", {}))
    if key not in knn:
        knn[key] = selector_scores(point, selector="knn", split="test", tasks=cfg.test_tasks, seeds=cfg.seeds,
                                   **parts, **cfg.sizes())
        study.set_user_attr("knn_test_scores", knn)
    study.set_user_attr("knn_key", key)
    paired = _vs_knn(study.user_attrs["best_test_scores"], knn[key])
    mlflow.log_metrics({name: value for name, value in paired.items() if value is not None})


def _knn_point(best: Any) -> dict[str, Any]:
    params = best.user_attrs["selector_params"]
    return {"k": int(params.get("k", DEFAULT_K)), "calibrate": bool(params.get("calibrate", False))}


def _knn_key(point: dict[str, Any]) -> str:
    return f"k={point['k']}" + (", calibrated" if point["calibrate"] else "")


def _vs_knn(best: list[float], knn: list[float]) -> dict[str, Any]:
    """kNN's test score and the best point's difference to it, paired by task (t-based 95% CI)."""
    from metaopt.stats import ci_or_none, mean_ci95
    from prompting.stats import paired_t95

    mean, ci = mean_ci95(knn)
    diff, diff_ci = paired_t95(best, knn)
    return {"knn_test_mean": mean, "knn_test_ci95": ci_or_none(ci), "vs_knn_mean": diff,
            "vs_knn_ci95": ci_or_none(diff_ci)}


def _results(study: Any, best: Any) -> dict[str, Any]:
    """The summary's result keys; ``gain_*``: best minus defaults, mean ± 95% CI over the paired test tasks."""
    from metaopt.stats import ci_or_none
    from prompting.stats import paired_t95

    attrs = study.user_attrs
    out = {"best_trial": best.number, "params": best.user_attrs["selector_params"], "best_val": best.value,
           "best_val_ci95": best.user_attrs.get("val_ci95"), "test_mean": attrs["best_test_mean"],
           "test_ci95": attrs["best_test_ci95"], "test_tasks": len(attrs["best_test_scores"])}
    if "default_test_mean" in attrs:
        gain, ci = paired_t95(attrs["best_test_scores"], attrs["default_test_scores"])
        out.update(default_params=attrs["default_params"], default_test_mean=attrs["default_test_mean"],
                   default_test_ci95=attrs["default_test_ci95"], gain_mean=gain, gain_ci95=ci_or_none(ci))
    if attrs.get("knn_key") in attrs.get("knn_test_scores", {}):
        out.update(knn_params=attrs["knn_key"], **_vs_knn(attrs["best_test_scores"],
                                                         attrs["knn_test_scores"][attrs["knn_key"]]))
    return out


def tune_selector(cfg: PromptTuneConfig, *, family: TaskFamily, lm: LabelScorer,
                  encoder: TextEncoder) -> dict[str, Any]:
    """Run (or resume) the study and return its summary (the CLI's ``--json``): counts by state, the best
    trial's params and validation score, and its test accuracy ± 95% CI beside the defaults' (``default_*``,
    ``gain_*``) and kNN's at the same k (``knn_*``, ``vs_knn_*``), both paired by task. The test scores are
    computed once per best trial and kept in the study's user attrs."""
    import mlflow
    from optuna.trial import TrialState

    from metaopt.tracking import mlflow_run
    from metaopt.tuning import close_killed_runs, optimize_within_budget, recover_dead_trials

    started = time.perf_counter()
    study = open_prompt_study(cfg)
    parent_id = study.user_attrs.get("mlflow_parent_run_id")
    parts = {"family": family, "lm": lm, "encoder": encoder}
    with mlflow_run(experiment=cfg.study, run_name=cfg.study, tracking_uri=cfg.tracking_uri, run_id=parent_id,
                    tags={"optuna_study": cfg.study, "benchmark": f"prompt:{cfg.family}",
                          "metaopt.command": "prompt tune"}) as parent:
        study.set_user_attr("mlflow_parent_run_id", parent.info.run_id)
        if parent_id is None:
            from metaopt.tuning._storage import public_config

            mlflow.log_params({k: str(v)[:500] for k, v in public_config(asdict(cfg)).items() if k != "progress"})
        recover_dead_trials(study)
        close_killed_runs(study, cfg.tracking_uri)
        objective = _Objective(cfg, parent_run_id=parent.info.run_id, **parts)
        optimize_within_budget(study, objective, trials=cfg.trials, timeout=cfg.timeout, progress=cfg.progress)
        trials = study.get_trials(deepcopy=False)
        from metaopt.tuning._storage import redact_url, resolve_storage

        summary: dict[str, Any] = {
            "study": cfg.study, "storage": redact_url(resolve_storage(cfg.storage)), "family": cfg.family,
            "selector": cfg.selector, "model": cfg.model, "sampler": cfg.sampler, "pruner": cfg.pruner,
            "trials": len(trials), "states": {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState},
            "val_tasks": cfg.tasks * len(cfg.seeds), "mlflow_parent_run_id": parent.info.run_id, "best_trial": None,
        }
        if not any(t.state == TrialState.COMPLETE for t in trials):
            return {**summary, "seconds": round(time.perf_counter() - started, 2)}
        best = study.best_trial
        new_best = study.user_attrs.get("best_trial") != best.number or "best_test_mean" not in study.user_attrs
        if new_best:
            _evaluate(cfg, study, best, **parts)
        if cfg.baseline and (new_best or study.user_attrs.get("knn_key") != _knn_key(_knn_point(best))):
            _knn_baseline(cfg, study, best, **parts)
        summary.update(_results(study, best))
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary
