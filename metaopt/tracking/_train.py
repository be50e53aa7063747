"""``metaopt train --track``: one MLflow run per run directory, resumed when training resumes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metaopt.callbacks import Callback

if TYPE_CHECKING:
    from metaopt.evaluation import EvalResult
    from metaopt.runs import RunConfig

__all__ = ["TrainTracking", "train_tracking", "DEFAULT_TRAIN_EXPERIMENT"]

DEFAULT_TRAIN_EXPERIMENT = "metaopt-train"
RUN_FILE = "mlflow_run.json"  # in the run directory: which MLflow run a resumed `train` continues


class TrainTracking:
    """What ``cmd_train`` needs from tracking: callbacks for the trainer and a ``finish`` for the results.
    Disabled (no run, no callbacks) unless tracking was asked for."""

    def __init__(self, run_id: str | None = None, log_every: int = 10, register: str | None = None) -> None:
        self.run_id = run_id
        self.register = register
        self.callbacks: list[Callback] = []
        if run_id is not None:
            from metaopt.tracking._callback import MLflowCallback

            self.callbacks.append(MLflowCallback(log_every, run_id=run_id))

    def finish(self, result: EvalResult, summary: dict[str, Any], out: Path) -> None:
        """Log the test result, ``results.json`` and (with a registry name) the model; add the run id to
        ``summary``."""
        if self.run_id is None:
            return
        import mlflow

        from metaopt.tracking._logging import log_eval_result
        from metaopt.tracking._model import log_learner_model

        log_eval_result(result, "test", run_id=self.run_id)
        summary["mlflow_run_id"] = self.run_id
        client = mlflow.MlflowClient()
        client.log_dict(self.run_id, summary, "results.json")
        if "processes" in summary:
            # A tag, not a param: how many processes trained is how the run was computed, and a run resumed on
            # another number of them would have to change a param, which MLflow forbids.
            client.set_tag(self.run_id, "metaopt.processes", str(summary["processes"]))
        if self.register:
            summary["model_uri"] = log_learner_model(out, self.register, run_id=self.run_id)


@contextlib.contextmanager
def train_tracking(
    config: RunConfig,
    out: Path,
    *,
    enabled: bool,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    register: str | None = None,
) -> Iterator[TrainTracking]:
    """Open (or resume) the MLflow run of the run directory ``out`` when ``enabled``; it ends FINISHED,
    FAILED (an exception, divergence) or KILLED (Ctrl-C), never RUNNING."""
    if not enabled:
        yield TrainTracking()
        return
    from metaopt.checkpoint import read_json, write_json
    from metaopt.tracking._logging import log_run_config
    from metaopt.tracking._runs import mlflow_run, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    experiment = experiment or DEFAULT_TRAIN_EXPERIMENT
    previous = read_json(out / RUN_FILE) if (out / RUN_FILE).is_file() else {}
    same_store = previous.get("tracking_uri") == uri and previous.get("experiment") == experiment
    resume_id = previous["run_id"] if same_store and _exists(uri, previous) else None
    tags = {"algorithm": config.algorithm, "benchmark": config.benchmark, "metaopt.out": str(out)}
    with mlflow_run(experiment=experiment, run_name=out.name, tracking_uri=uri, run_id=resume_id,
                    tags=None if resume_id else tags) as run:
        write_json(out / RUN_FILE, {"run_id": run.info.run_id, "tracking_uri": uri, "experiment": experiment})
        if not resume_id:
            log_run_config(config, run_id=run.info.run_id)
        yield TrainTracking(run.info.run_id, register=register)


def _exists(uri: str, previous: dict[str, Any]) -> bool:
    import mlflow

    try:
        run = mlflow.MlflowClient(uri).get_run(previous["run_id"])
    except Exception:  # deleted run or a store that was wiped: start a new run
        return False
    return run.info.lifecycle_stage == "active"
