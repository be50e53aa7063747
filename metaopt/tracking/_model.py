"""Logging a metaopt run directory as an MLflow pyfunc model, optionally registered by name."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from metaopt._imports import require
from metaopt.tracking._logging import active_run_id
from metaopt.tracking._quiet import no_artifact_progress_bars

__all__ = ["log_learner_model", "pack_run_dir"]


def pack_run_dir(run_dir: str | Path, dest: str | Path, *, best: bool = True) -> Path:
    """Copy what serving needs from ``run_dir`` into ``dest``: ``config.json``, a weights-only
    ``checkpoint.pt`` (the best-validation weights unless ``best=False``) and ``model_info.json``
    (input shape, task kind, ways), so loading the model never loads the benchmark's data."""
    from metaopt.checkpoint import save_checkpoint, write_json
    from metaopt.errors import ConfigError
    from metaopt.runs import load_run, save_run_config
    from metaopt.tasks.base import task_rng

    run = load_run(run_dir, best=best)
    cfg = run.config
    kind = run.learner.kind
    if kind not in ("classification", "regression"):
        raise ConfigError(f"pyfunc models cover classification and regression learners, not {kind} ({cfg.algorithm})")
    # One sampled task gives the input shape without asking the benchmark (which may load its data again).
    input_shape = list(run.sources["test"].sample(task_rng(0)).support_x.shape[1:])
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    save_run_config(dest, cfg)
    # `evaluate --checkpoint` reads "learner" when "best_state" is empty, so the packed folder is a run dir too.
    save_checkpoint(dest, {"learner": run.learner.state_dict(), "best_state": {}})
    write_json(dest / "model_info.json", {
        "algorithm": cfg.algorithm, "benchmark": cfg.benchmark, "kind": kind, "input_shape": input_shape,
        "n_way": cfg.ways, "out_features": cfg.ways if kind == "classification" else 1, "shots": cfg.shots,
    })
    return dest


def log_learner_model(
    run_dir: str | Path,
    registered_name: str | None = None,
    *,
    name: str = "model",
    run_id: str | None = None,
    best: bool = True,
) -> str:
    """Log the run in ``run_dir`` (``config.json`` + checkpoint) as a pyfunc model of the active run
    (or ``run_id``) and return its model URI; with ``registered_name``, also register it in the model
    registry. ``mlflow.pyfunc.load_model(uri).predict({"support_x": ..., "support_y": ..., "query_x": ...})``
    adapts to the support set and returns query predictions (see ``metaopt.tracking._pyfunc``)."""
    mlflow = require("mlflow", "mlflow")
    import torch

    import metaopt

    rid = active_run_id(run_id)
    # Explicit requirements: letting MLflow infer them loads the model in a subprocess, which is slow.
    requirements = [f"mlflow=={mlflow.__version__}", f"torch=={torch.__version__.split('+')[0]}", "higher",
                    f"metaopt=={metaopt.__version__}"]
    with tempfile.TemporaryDirectory(prefix="metaopt-model-") as tmp:
        packed = pack_run_dir(run_dir, Path(tmp) / "run", best=best)
        with _active(mlflow, rid), no_artifact_progress_bars():
            info: Any = mlflow.pyfunc.log_model(
                name=name, python_model=str(Path(__file__).with_name("_pyfunc.py")), artifacts={"run_dir": str(packed)},
                pip_requirements=requirements, registered_model_name=registered_name,
            )
    return info.model_uri


class _active:
    """``mlflow.pyfunc.log_model`` logs to the active run: make ``run_id`` active for the call if needed,
    and afterwards put its status back as it was (re-activating a run would otherwise mark it RUNNING)."""

    def __init__(self, mlflow: Any, run_id: str) -> None:
        self.mlflow, self.run_id, self.status = mlflow, run_id, None

    def __enter__(self) -> None:
        active = self.mlflow.active_run()
        if active is None or active.info.run_id != self.run_id:
            self.status = self.mlflow.MlflowClient().get_run(self.run_id).info.status
            self.mlflow.start_run(run_id=self.run_id, nested=active is not None)

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.mlflow.end_run(status=self.status)
