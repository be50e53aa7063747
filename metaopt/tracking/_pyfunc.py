"""A metaopt run as an MLflow pyfunc model: adapt on a support set, predict a query set.

Input to ``predict`` is one task, either

- a dict of arrays: ``support_x`` ``[S, *input_shape]``, ``support_y`` ``[S]`` (class ids
  ``0..ways-1``, integers) or ``[S, 1]`` (regression targets), ``query_x`` ``[Q, *input_shape]``;
  flat rows ``[S, prod(input_shape)]`` are reshaped; or
- a pandas DataFrame with one row per example: column ``set`` (``"support"`` or ``"query"``),
  column ``y`` (ignored on query rows) and the input as the remaining columns, flattened in order.

The output is a numpy array of query predictions after adaptation, exactly as the learner gives
them: class logits ``[Q, ways]`` (take ``argmax(-1)`` for labels) or regression values ``[Q, 1]``.

This file is logged as MLflow "model from code" (no pickled objects); MLflow runs it when the model
loads, and ``set_model`` at the bottom names the model. ``metaopt.tracking`` never imports it at
import time, since it imports mlflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.models
import mlflow.pyfunc

__all__ = ["MetaLearnerModel", "load_learner", "task_from_input", "MODEL_INFO_FILE"]

MODEL_INFO_FILE = "model_info.json"


def load_learner(directory: str | Path) -> Any:
    """Rebuild the learner packed by :func:`log_learner_model` without loading the benchmark's data."""
    from metaopt.algorithms import build_config
    from metaopt.checkpoint import CONFIG_FILE, load_checkpoint, read_json
    from metaopt.runs import RunConfig, new_learner

    directory = Path(directory)
    config = RunConfig.from_dict(read_json(directory / CONFIG_FILE), source=str(directory / CONFIG_FILE))
    info = read_json(directory / MODEL_INFO_FILE)
    learner = new_learner(config.algorithm, build_config(config.algorithm, config.learner), info["kind"],
                          tuple(info["input_shape"]), info["out_features"])
    learner.load_state_dict(load_checkpoint(directory)["learner"])
    learner.eval()
    return learner


def task_from_input(model_input: Any, input_shape: tuple[int, ...], kind: str, n_way: int | None) -> Any:
    """The :class:`~metaopt.tasks.base.Task` described by a pyfunc input (see the module docstring)."""
    import numpy as np
    import torch

    from metaopt.errors import ConfigError
    from metaopt.tasks.base import Task

    if hasattr(model_input, "columns"):  # a pandas DataFrame
        if "set" not in model_input.columns or "y" not in model_input.columns:
            raise ConfigError("a DataFrame input needs columns 'set' and 'y' plus the input columns")
        features = [c for c in model_input.columns if c not in ("set", "y")]
        support = model_input[model_input["set"] == "support"]
        query = model_input[model_input["set"] == "query"]
        data = {"support_x": support[features].to_numpy(), "support_y": support["y"].to_numpy(),
                "query_x": query[features].to_numpy()}
    elif isinstance(model_input, dict):
        data = model_input
    else:
        raise ConfigError(f"expected a dict of arrays or a pandas DataFrame, got {type(model_input).__name__}")
    missing = [k for k in ("support_x", "support_y", "query_x") if k not in data]
    if missing:
        raise ConfigError(f"model input lacks {', '.join(missing)}")

    def inputs(name: str) -> torch.Tensor:
        array = np.asarray(data[name], dtype=np.float32)
        try:
            return torch.from_numpy(array.reshape(len(array), *input_shape))
        except ValueError:
            raise ConfigError(f"{name} of shape {array.shape} does not fit inputs of shape {input_shape}") from None

    support_x, query_x = inputs("support_x"), inputs("query_x")
    labels = np.asarray(data["support_y"])
    if kind == "classification":
        support_y = torch.from_numpy(labels.reshape(-1).astype(np.int64))
        if n_way is not None and (support_y.min() < 0 or support_y.max() >= n_way):
            raise ConfigError(f"support_y must hold class ids 0..{n_way - 1}")
        query_y = torch.zeros(len(query_x), dtype=torch.int64)
    else:
        support_y = torch.from_numpy(labels.astype(np.float32).reshape(-1, 1))
        query_y = torch.zeros(len(query_x), 1)
    if len(support_y) != len(support_x):
        raise ConfigError(f"{len(support_x)} support inputs but {len(support_y)} support labels")
    return Task(support_x, support_y, query_x, query_y, kind, n_way)  # type: ignore[arg-type]


class MetaLearnerModel(mlflow.pyfunc.PythonModel):
    """Adapts the meta-learned model to each input's support set and predicts its query set.

    ``params={"steps": n}`` overrides the number of adaptation steps (default: the run's).
    """

    # One input is one whole task, which MLflow's type-hint schemas cannot describe. Without this flag
    # (MLflow's own opt-out, used by its ChatModel) MLflow asks for type hints in a yellow warning each
    # time the model is logged, from inside a warnings filter of its own that no caller can override.
    _skip_type_hint_validation = True

    def load_context(self, context: Any) -> None:
        from metaopt.checkpoint import read_json

        directory = Path(context.artifacts["run_dir"])
        self.learner = load_learner(directory)
        self.info = read_json(directory / MODEL_INFO_FILE)

    # ``model_input`` has no annotation on purpose: MLflow turns an annotation into a schema check that
    # expects a list of instances, while one input here is one whole task.
    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> Any:
        info = self.info
        task = task_from_input(model_input, tuple(info["input_shape"]), info["kind"], info["n_way"])
        steps = (params or {}).get("steps")
        prediction = self.learner.predict(task, int(steps) if steps else None)
        return prediction.detach().cpu().numpy()


mlflow.models.set_model(MetaLearnerModel())
