"""A saved example selector as an MLflow pyfunc model: a query in, its demonstrations and prompt out.

Input: a DataFrame with a ``query`` column (text) and an optional ``k`` column (demonstrations per query,
default the ``k`` the model was logged with). Output: a DataFrame with ``demonstrations`` (a JSON list of
``{"text", "label", "label_word"}``, in prompt order: the last sits next to the query) and ``prompt`` (the
demonstrations and the query in the dataset's template, ready for the LM).

Logged as an MLflow "model from code" (no pickled objects): MLflow runs this file when the model loads, and
``set_model`` at the bottom names the model. ``mlflow models serve -m models:/NAME/1`` serves it.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow.models
import mlflow.pyfunc

__all__ = ["SelectorModel"]


class SelectorModel(mlflow.pyfunc.PythonModel):
    _skip_type_hint_validation = True  # the signature logged with the model describes its input

    def load_context(self, context: Any) -> None:
        from prompting.deploy import load_selector

        self.selector = load_selector(context.artifacts["selector"])
        self.default_k = int((context.model_config or {}).get("k", 4))

    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        frame = model_input if hasattr(model_input, "columns") else pd.DataFrame(model_input)
        if "query" not in frame.columns:
            raise ValueError("the input needs a 'query' column")
        ks = frame["k"] if "k" in frame.columns else [None] * len(frame)
        rows = []
        for query, k in zip(frame["query"], ks):
            k = self.default_k if k is None or pd.isna(k) else int(k)
            demos = self.selector.select(str(query), k)
            words = self.selector.labels
            rows.append({"demonstrations": json.dumps([{"text": d.text, "label": d.label, "label_word": words[d.label]}
                                                       for d in demos]),
                         "prompt": self.selector.prompt_format.build(words, demos, str(query))})
        return pd.DataFrame(rows, columns=["demonstrations", "prompt"])


mlflow.models.set_model(SelectorModel())
