"""Fakes for the selector logic: a bag-of-words encoder, an LM that rewards on-topic demonstrations, and a
synthetic family whose classes have their own vocabularies. Real-model fixtures load once per session."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from prompting.tasks.base import TaskFamily, split_classes

_DEMO = re.compile(r"Text: (.*?)\nLabel: (.*?)\n\n", re.S)


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


class FakeEncoder:
    """Hashed bag of words, unit length: texts sharing words are close."""

    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        self.calls += 1
        out = torch.zeros(len(texts), self.dim)
        for i, t in enumerate(texts):
            for w in words(t):
                out[i, zlib.crc32(w.encode()) % self.dim] += 1.0
        return torch.nn.functional.normalize(out + 1e-6, dim=-1)


class FakeLM:
    """Scores label v by how many demonstrations labelled v share a class keyword (``kw*``) with the query.

    Off-topic or wrongly-matching demonstrations add nothing, so a selector that finds on-topic examples of
    the query's own class wins, and zero-shot is at chance (ties break to the first label).
    """

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def label_logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> torch.Tensor:
        self.prompts += list(prompts)
        labels = [c.strip() for c in continuations]
        out = torch.zeros(len(prompts), len(labels))
        for i, prompt in enumerate(prompts):
            query = prompt.rsplit("Text: ", 1)[1].rsplit("\nLabel:", 1)[0]
            qk = {w for w in words(query) if w.startswith("kw")}
            for text, label in _DEMO.findall(prompt):
                if label in labels:
                    out[i, labels.index(label)] += len(qk & words(text))
        return torch.log_softmax(out, dim=-1)


def synthetic_family(num_classes: int = 12, per_class: int = 30, seed: int = 0) -> TaskFamily:
    """Class c's texts mix two of its five keywords ``kw{c}x{j}`` with shared filler words."""
    rng = np.random.default_rng(seed)
    filler = [f"filler{i}" for i in range(40)]
    texts = {}
    for c in range(num_classes):
        texts[f"class{c}"] = [
            " ".join([f"kw{c}x{j}" for j in rng.choice(5, 2, replace=False)] + list(rng.choice(filler, 4)))
            for _ in range(per_class)
        ]
    return TaskFamily("synthetic", texts, {f"class{c}": f"topic{c}" for c in range(num_classes)},
                      split_classes(num_classes, (0.5, 0.17)))


@pytest.fixture()
def fake_lm() -> FakeLM:
    return FakeLM()


@pytest.fixture()
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def family() -> TaskFamily:
    return synthetic_family()


@pytest.fixture(scope="session")
def real_lm():
    torch.set_num_threads(1)
    from prompting.lm import FrozenLM

    return FrozenLM.load()


@pytest.fixture(scope="session")
def real_encoder():
    from prompting.encoder import SentenceEncoder

    return SentenceEncoder()
