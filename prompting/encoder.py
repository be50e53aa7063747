"""Sentence embeddings from all-MiniLM-L6-v2 (mean pooling, unit length), loaded offline by default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from metaopt._imports import require
from metaopt.errors import ConfigError
from prompting._sources import from_hub, minilm_folder

__all__ = ["TextEncoder", "SentenceEncoder"]


class TextEncoder(Protocol):
    """Maps texts to unit-length vectors ``[len(texts), dim]`` (MiniLM, or a fake in tests)."""

    dim: int

    def encode(self, texts: Sequence[str]) -> torch.Tensor: ...


class SentenceEncoder:
    """A frozen Hugging Face encoder with attention-masked mean pooling, as sentence-transformers does it.

    Embeddings are memoised by text: selectors, the learned scorers and ProtoNets share them.
    """

    def __init__(self, name_or_path: str | None = None, *, batch_size: int = 32, max_length: int = 256,
                 device: str = "cpu") -> None:
        from prompting.lm import check_device

        require("transformers", "metaopt[llm]")
        from transformers import AutoModel, AutoTokenizer

        folder = name_or_path or str(minilm_folder())
        self.name = name_or_path or "all-MiniLM-L6-v2"
        try:
            self.tokenizer = from_hub(AutoTokenizer.from_pretrained, folder, "--encoder")
            self.model = from_hub(AutoModel.from_pretrained, folder, "--encoder").eval().to(check_device(device))
        except OSError as exc:
            raise ConfigError(f"could not load encoder {folder!r}: {str(exc).splitlines()[0]}") from exc
        self.model.requires_grad_(False)
        self.device = next(iter(self.model.parameters())).device
        self.dim = int(self.model.config.hidden_size)
        self.batch_size = batch_size
        self.max_length = max_length
        self._memo: dict[str, torch.Tensor] = {}

    def remember(self, texts: Sequence[str], vectors: torch.Tensor) -> None:
        """Take ``vectors`` as this encoder's embeddings of ``texts`` (a saved selector's pool, embedded by the
        same encoder when it was fitted), so loading it does not embed the pool again."""
        if vectors.shape != (len(texts), self.dim):
            raise ConfigError(f"saved embeddings of shape {tuple(vectors.shape)} do not fit {len(texts)} texts of "
                              f"dimension {self.dim}")
        self._memo.update(zip(texts, vectors.float()))

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            batch = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="pt")
            hidden = self.model(**batch.to(self.device)).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = ((hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)).float().cpu()
            for text, vec in zip(chunk, torch.nn.functional.normalize(pooled, dim=-1)):
                self._memo[text] = vec
        if not texts:
            return torch.empty(0, self.dim)
        return torch.stack([self._memo[t] for t in texts])
