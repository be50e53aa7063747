"""A fitted selector as a folder a user deploys: no pickle, loadable in a fresh process.

``save_selector`` writes ``selector.json`` (the method, its hyperparameters, the labels and their words, the
prompt template, the encoder's name, what the guard chose), ``pool.jsonl`` (the demonstrations it chooses
from) and ``tensors.safetensors`` (the pool's embeddings and, for ``learned`` / ``meta``, the trained scorer's
weights). ``load_selector`` rebuilds it: the same query gives the same demonstrations as before the save.

    from prompting.deploy import fit_selector, load_selector
    fit_selector("learned", dataset, lm=lm, encoder=encoder).save("my-selector")
    load_selector("my-selector").select("a gripping, funny film", k=4)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from metaopt.errors import ConfigError
from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormat
from prompting.selectors import make_selector
from prompting.selectors._feedback import ScoredSelector
from prompting.selectors._scorer import ResidualScorer
from prompting.selectors.base import FittedSelector
from prompting.tasks.base import Example

__all__ = ["DeployedSelector", "fit_selector", "load_selector", "log_selector_model", "DEPLOYABLE", "FORMAT"]

FORMAT = "metaopt-selector/1"
# bootstrap picks one set per k with the LM at select time and zero picks nothing: neither has a fit to keep
DEPLOYABLE = ("random", "knn", "balanced_knn", "bm25", "learned", "meta")


@dataclass
class DeployedSelector:
    """A fitted selector with what a prompt needs: ``select(query, k)`` the demonstrations, ``prompt(query, k)``
    the prompt in the dataset's template."""

    name: str
    params: dict[str, Any]
    fitted: FittedSelector
    classes: tuple[str, ...]
    verbalisers: tuple[str, ...]
    prompt_format: PromptFormat
    encoder_name: str | None
    seed: int = 0

    @property
    def labels(self) -> dict[str, str]:
        return dict(zip(self.classes, self.verbalisers))

    def select(self, query: str, k: int = 4) -> list[Example]:
        if not isinstance(query, str) or not query.strip():
            raise ConfigError("the query must be a non-empty text")
        return self.fitted.select(query, k)

    def prompt(self, query: str, k: int = 4) -> str:
        return self.prompt_format.build(self.labels, self.select(query, k), query)

    def save(self, directory: str | Path) -> Path:
        """Write the folder (it must not hold another file of these names that is not a saved selector)."""
        from safetensors.torch import save_file

        from metaopt.checkpoint import write_atomically

        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out}: exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not (out / "selector.json").is_file():
            raise ConfigError(f"--out {out}: a folder that holds other files; give a new or empty folder")
        if not out.parent.is_dir():
            raise ConfigError(f"--out {out}: the folder {out.parent} does not exist")
        out.mkdir(exist_ok=True)
        pool = self.fitted.pool
        tensors: dict[str, torch.Tensor] = {}
        keys = getattr(self.fitted, "keys", None)
        if isinstance(keys, torch.Tensor):
            tensors["pool_embeddings"] = keys.float().contiguous()
        scorer = getattr(self.fitted, "scorer", None)
        if isinstance(scorer, ResidualScorer):
            tensors.update({f"scorer.{k}": v.detach().contiguous() for k, v in scorer.state_dict().items()})
        report = getattr(self.fitted, "report", None)
        meta = {"format": FORMAT, "selector": self.name, "params": self.params, "seed": self.seed,
                "classes": list(self.classes), "verbalisers": list(self.verbalisers),
                "template": self.prompt_format.template, "instruction": self.prompt_format.instruction,
                "separator": self.prompt_format.separator, "encoder": self.encoder_name, "pool_size": len(pool),
                "guard": None if report is None else {"steps": report.steps, "temperature": report.temperature,
                                                      "gain": report.gain}}
        lines = "".join(json.dumps({"text": e.text, "label": e.label, "parts": list(e.parts)}) + "\n" for e in pool)
        write_atomically(out / "pool.jsonl", lines.encode(), "--out")
        if tensors:
            save_file(tensors, str(out / "tensors.safetensors"))
        write_atomically(out / "selector.json", json.dumps(meta, indent=1).encode(), "--out")
        return out


def fit_selector(name: str, pool: Sequence[Example], *, classes: Sequence[str], verbalisers: Sequence[str],
                 prompt_format: PromptFormat, lm: LabelScorer | None, encoder: TextEncoder | None,
                 encoder_name: str | None = None, seed: int = 0, meta: Any = None,
                 **params: Any) -> DeployedSelector:
    """Fit ``name`` on ``pool`` (``learned`` asks ``lm``; ``meta`` is the meta-trained selector to bind)."""
    if name not in DEPLOYABLE:
        raise ConfigError(f"--selector {name}: a deployable selector is one of {', '.join(DEPLOYABLE)} "
                          "(bootstrap and zero keep nothing to deploy)")
    labels = dict(zip(classes, verbalisers))
    selector = meta if name == "meta" else make_selector(name, **params)
    fitted = selector.fit(list(pool), lm=lm, labels=labels, encoder=encoder, seed=seed,  # type: ignore[arg-type]
                          prompt_format=prompt_format)
    return DeployedSelector(name, dict(params), fitted, tuple(classes), tuple(verbalisers), prompt_format,
                            encoder_name, seed)


def load_selector(directory: str | Path, *, encoder: TextEncoder | None = None) -> DeployedSelector:
    """A selector saved by :meth:`DeployedSelector.save`; ``encoder`` defaults to the one it was fitted with."""
    folder = Path(directory)
    try:
        meta = json.loads((folder / "selector.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        pool = [Example(r["text"], r["label"], tuple(r.get("parts") or ())) for r in
                map(json.loads, (folder / "pool.jsonl").read_text(encoding="utf-8").splitlines()) if r]
        fmt = PromptFormat(meta["template"], meta["instruction"], meta["separator"])
        name, params = str(meta["selector"]), dict(meta["params"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--selector {folder}: not a selector saved by `metaopt prompt fit` ({exc})") from None
    if name not in DEPLOYABLE:
        raise ConfigError(f"--selector {folder}: unknown selector {name!r}")
    tensors: dict[str, torch.Tensor] = {}
    if (folder / "tensors.safetensors").is_file():
        from safetensors.torch import load_file

        tensors = load_file(str(folder / "tensors.safetensors"))
    needs_encoder = name != "random" and name != "bm25"
    if encoder is None and needs_encoder:
        from prompting.encoder import SentenceEncoder

        encoder = SentenceEncoder(None if meta.get("encoder") in (None, "all-MiniLM-L6-v2") else meta["encoder"])
    if encoder is not None and "pool_embeddings" in tensors and hasattr(encoder, "remember"):
        encoder.remember([e.text for e in pool], tensors["pool_embeddings"])
    labels = dict(zip(meta["classes"], meta["verbalisers"]))
    scorer_state = {k.removeprefix("scorer."): v for k, v in tensors.items() if k.startswith("scorer.")}
    if name in ("learned", "meta"):
        rank = int(scorer_state["u"].shape[1]) if "u" in scorer_state else 0
        scorer = ResidualScorer(int(scorer_state["diag"].shape[0]), rank)
        scorer.load_state_dict(scorer_state)
        fitted: FittedSelector = ScoredSelector(pool, encoder, scorer.eval())  # type: ignore[arg-type]
    else:
        fitted = make_selector(name, **params).fit(pool, lm=None, labels=labels, encoder=encoder,  # type: ignore[arg-type]
                                                   seed=int(meta.get("seed", 0)), prompt_format=fmt)
    return DeployedSelector(name, params, fitted, tuple(meta["classes"]), tuple(meta["verbalisers"]), fmt,
                            meta.get("encoder"), int(meta.get("seed", 0)))


def log_selector_model(directory: str | Path, registered_name: str | None = None, *, k: int = 4,
                       name: str = "selector") -> str:
    """Log the saved selector in ``directory`` as a pyfunc model of the active MLflow run (with a signature and
    an input example), registered as ``registered_name`` if given; returns the model URI."""
    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    import metaopt
    from metaopt.tracking._quiet import no_artifact_progress_bars

    signature = ModelSignature(Schema([ColSpec("string", "query"), ColSpec("long", "k", required=False)]),
                               Schema([ColSpec("string", "demonstrations"), ColSpec("string", "prompt")]))
    example = pd.DataFrame({"query": ["an example query"], "k": [k]})
    requirements = [f"mlflow=={mlflow.__version__}", f"torch=={torch.__version__.split('+')[0]}",
                    f"metaopt=={metaopt.__version__}"]
    with no_artifact_progress_bars():
        info: Any = mlflow.pyfunc.log_model(
            name=name, python_model=str(Path(__file__).with_name("_selector_pyfunc.py")),
            artifacts={"selector": str(directory)}, signature=signature, input_example=example,
            model_config={"k": k}, pip_requirements=requirements, registered_model_name=registered_name)
    return info.model_uri
