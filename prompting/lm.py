"""A frozen causal LM that classifies by the log-likelihood of each verbalised label after a prompt."""

from __future__ import annotations

import copy
import inspect
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from metaopt._imports import require
from metaopt.checkpoint import private_sibling
from metaopt.errors import ConfigError
from prompting._prefix import MIN_PREFIX, prefix_groups
from prompting._sources import DEFAULT_MODEL, NAMED_MODELS, cache_root, gemma3_gguf, named_models_text, smollm2_gguf

__all__ = ["LabelScorer", "CountingScorer", "FrozenLM", "DEFAULT_MODEL", "NAMED_MODELS", "check_device",
           "named_models_text", "hide_load_progress"]


class LabelScorer(Protocol):
    """What selectors and the comparison need from an LM (the real one or a test fake)."""

    def label_logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> torch.Tensor:
        """``[len(prompts), len(continuations)]``: log p(continuation | prompt), summed over its tokens."""
        ...


class CountingScorer:
    """Forwards to ``lm`` and counts the prompts sent (a selector's LM budget, whether or not a memo had them)."""

    def __init__(self, lm: LabelScorer) -> None:
        self.lm, self.prompts = lm, 0
        self.name = str(getattr(lm, "name", type(lm).__name__))

    def label_logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> torch.Tensor:
        self.prompts += len(prompts)
        return self.lm.label_logprobs(prompts, continuations)


class FrozenLM:
    """Wraps a Hugging Face causal LM that never trains.

    ``label_logprobs`` scores every continuation (a verbalised label, usually with a leading space)
    after every prompt. Continuations are tokenised on their own and appended to the prompt's ids, so a
    multi-token label is scored as the sum of its tokens' conditional log-probabilities. When every
    continuation is a single token, one forward pass per prompt scores them all. Prompts go through
    the model in length-sorted batches of ``batch_size`` (so a batch holds prompts of similar length and
    little padding). Only the logits that are used are computed (``logits_to_keep``: the last position for
    single-token labels, the label's positions otherwise); ``only_used_logits=False`` computes the full
    vocabulary at every position (the reference, and the "before" of ``benchmarks/lm_scoring_speed.py``).
    Results are memoised by (prompt, labels), so a prompt is scored once across selectors, k values and
    calibration's content-free prompts. Prompts of one call that start with the same tokens (a demonstration
    set before many queries, or before calibration's content-free inputs) run those tokens once and only their
    endings on top of the cached keys and values (``share_prefixes``; single-token labels).
    """

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 8, name: str = "model",
                 only_used_logits: bool = True, share_prefixes: bool = True) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be positive, got {batch_size}")
        self.model = model.eval()
        self.model.requires_grad_(False)
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.name = name
        self.max_length = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = int(pad or 0)
        self.calls = 0  # forward passes run, for budgeting and tests
        self.tokens = 0  # tokens those passes ran (padding excluded): what the work costs
        self.only_used_logits = only_used_logits
        self.share_prefixes = share_prefixes
        # transformers 5.2x names the key/value cache ``cache``; earlier versions ``past_key_values``
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self.device = next(iter(model.parameters())).device
        self._memo: dict[tuple[str, tuple[str, ...]], torch.Tensor] = {}

    @classmethod
    def load(cls, name_or_path: str | None = None, *, batch_size: int = 8, dtype: str = "float32",
             device: str = "cpu") -> FrozenLM:
        """By hub name, local folder or ``.gguf`` file; ``None`` or ``"smollm2"`` is the offline default and
        ``"gemma3"`` the larger offline model (``NAMED_MODELS``).

        ``dtype="bfloat16"`` runs about 2-3x faster on CPUs with AMX/AVX512-BF16, at ~0.25 nats of
        log-prob noise; the weights are cached in float32 either way. ``device`` is a torch device
        (``cpu``, ``cuda``, ``cuda:1``).
        """
        if dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"dtype must be float32 or bfloat16, got {dtype!r}")
        target = check_device(device)
        require("transformers", "metaopt[llm]")
        torch_dtype = getattr(torch, dtype)
        if name_or_path in (None, DEFAULT_MODEL):
            model, tokenizer = _load_gguf(smollm2_gguf(), torch_dtype)
        elif name_or_path == "gemma3":
            model, tokenizer = _load_gguf(gemma3_gguf(), torch_dtype)
        elif str(name_or_path).endswith(".gguf"):
            if not Path(name_or_path).exists():
                raise ConfigError(f"GGUF file {name_or_path} does not exist")
            model, tokenizer = _load_gguf(Path(name_or_path), torch_dtype)
        else:
            model, tokenizer = _load_pretrained(name_or_path, torch_dtype)
        model = model.to(target)
        return cls(model, tokenizer, batch_size=batch_size, name=str(name_or_path or DEFAULT_MODEL))

    def _ids(self, text: str, special: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    @torch.inference_mode()
    def label_logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> torch.Tensor:
        labels = tuple(continuations)
        if not labels:
            raise ConfigError("no labels to score")
        todo = [p for p in dict.fromkeys(prompts) if (p, labels) not in self._memo]
        if todo:
            label_ids = [self._ids(c, special=False) for c in labels]
            if any(not ids for ids in label_ids):
                raise ConfigError(f"a label tokenises to nothing: {labels!r}")
            prompt_ids = [self._ids(p, special=True) for p in todo]
            if all(len(ids) == 1 for ids in label_ids):
                scores = self._single_token(prompt_ids, [ids[0] for ids in label_ids])
            else:
                scores = self._multi_token(prompt_ids, label_ids)
            for prompt, row in zip(todo, scores):
                self._memo[(prompt, labels)] = row
        return torch.stack([self._memo[(p, labels)] for p in prompts])

    def _forward(self, sequences: list[list[int]], positions: list[list[int]]) -> list[torch.Tensor]:
        """Log-softmax over the vocabulary at ``positions[i]`` of sequence ``i`` (``[len(positions[i]), V]``),
        in length-sorted batches."""
        out: list[torch.Tensor] = [torch.empty(0)] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(sequences[i]) for i in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            keep = max(len(positions[i]) for i in batch)
            pos = torch.zeros((len(batch), keep), dtype=torch.long)
            for row, i in enumerate(batch):  # right padding keeps real tokens at positions 0..n-1
                ids[row, : len(sequences[i])] = torch.tensor(sequences[i])
                mask[row, : len(sequences[i])] = 1
                pos[row] = torch.tensor(positions[i] + positions[i][-1:] * (keep - len(positions[i])))
            logits = self._logits(ids.to(self.device), mask.to(self.device), pos.to(self.device))
            self.calls += 1
            self.tokens += int(mask.sum())
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
            for row, i in enumerate(batch):
                out[i] = logp[row, : len(positions[i])]
        return out

    def _after_prefixes(self, seqs: list[list[int]], groups: list[tuple[int, list[int]]],
                        positions: list[list[int]] | None = None) -> dict[int, torch.Tensor]:
        """Log-softmax over the vocabulary at ``positions[i]`` of every member ``i`` of ``groups`` (``(prefix
        length, members)``; default: its last token), ``[len(positions[i]), V]`` by member; each position must
        lie after the member's prefix. Up to ``batch_size`` prefixes run in one right-padded pass and are kept
        as a key/value cache; each member's ending then runs on its group's cache row, with explicit positions
        (its prefix's length onwards), so padding inside the cache is masked out and moves nothing."""
        if positions is None:
            positions = [[len(seq) - 1] for seq in seqs]
        out: dict[int, torch.Tensor] = {}
        groups = sorted(groups, key=lambda g: g[0])
        for first in range(0, len(groups), self.batch_size):
            chunk = groups[first : first + self.batch_size]
            width = max(length for length, _ in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            prefix_mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (length, members) in enumerate(chunk):
                ids[row, :length] = torch.tensor(seqs[members[0]][:length])
                prefix_mask[row, :length] = 1
            run = self.model(input_ids=ids.to(self.device), attention_mask=prefix_mask.to(self.device),
                             use_cache=True, logits_to_keep=1)
            cache = run.cache if "cache" in run else run.past_key_values
            self.calls += 1
            self.tokens += int(prefix_mask.sum())
            rows = [(row, length, i) for row, (length, members) in enumerate(chunk) for i in members]
            rows.sort(key=lambda r: len(seqs[r[2]]) - r[1])
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                tails = [seqs[i][length:] for _, length, i in batch]
                tail_width = max(len(t) for t in tails)
                tail_ids = torch.full((len(batch), tail_width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width + tail_width), dtype=torch.long)
                tail_positions = torch.zeros((len(batch), tail_width), dtype=torch.long)
                for r, ((row, length, _), tail) in enumerate(zip(batch, tails)):
                    tail_ids[r, : len(tail)] = torch.tensor(tail)
                    mask[r, :width] = prefix_mask[row]
                    mask[r, width : width + len(tail)] = 1
                    tail_positions[r] = torch.arange(length, length + tail_width)
                past = copy.deepcopy(cache)
                past.batch_select_indices(torch.tensor([row for row, _, _ in batch], device=self.device))
                wanted = [[p - length for p in positions[i]] for _, length, i in batch]
                width_kept = max(len(w) for w in wanted)
                keep = torch.tensor([w + w[-1:] * (width_kept - len(w)) for w in wanted])
                logits = self._logits(tail_ids.to(self.device), mask.to(self.device), keep.to(self.device), past,
                                      tail_positions.to(self.device))
                self.calls += 1
                self.tokens += sum(len(t) for t in tails)
                logp = torch.log_softmax(logits.float(), dim=-1).cpu()
                for r, (_, _, i) in enumerate(batch):
                    out[i] = logp[r, : len(positions[i])]
        return out

    def _logits(self, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, past: Any = None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, P, V]`` at positions ``pos [B, P]``: only those are projected onto the vocabulary when
        the model takes a per-row ``logits_to_keep`` (transformers >= 5); otherwise all, then gathered.
        ``past``: a key/value cache of tokens before ``ids`` (whose positions ``pos`` do not count), and
        ``positions`` the position ids of ``ids`` after it."""
        extra = {} if past is None else {self._cache_arg: past, "use_cache": True, "position_ids": positions}
        if self.only_used_logits:
            try:
                logits = self.model(input_ids=ids, attention_mask=mask, logits_to_keep=pos, **extra).logits
                if logits.dim() == 3 and logits.shape[:2] == pos.shape:
                    return logits
            except TypeError:  # a model without logits_to_keep
                pass
            self.only_used_logits = False  # older models slice differently: do not ask again
        logits = self.model(input_ids=ids, attention_mask=mask, **extra).logits
        return torch.take_along_dim(logits, pos[..., None], dim=1)

    def _clip(self, ids: list[int], room: int) -> list[int]:
        # Over-long prompts lose their oldest tokens: the query and label sit at the end.
        keep = self.max_length - room
        return ids[-keep:] if len(ids) > keep else ids

    def _single_token(self, prompt_ids: list[list[int]], label_tokens: list[int]) -> list[torch.Tensor]:
        seqs = [self._clip(ids, 0) for ids in prompt_ids]
        rows: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
        groups = prefix_groups(seqs) if self.share_prefixes else [(0, list(range(len(seqs))))]
        whole = [i for length, members in groups if not length for i in members]
        for i, row in self._after_prefixes(seqs, [g for g in groups if g[0]]).items():
            rows[i] = row
        for i, row in zip(whole, self._forward([seqs[i] for i in whole], [[len(seqs[i]) - 1] for i in whole])):
            rows[i] = row
        index = torch.tensor(label_tokens)
        return [logp[0, index] for logp in rows]

    def _multi_token(self, prompt_ids: list[list[int]], label_ids: list[list[int]]) -> list[torch.Tensor]:
        seqs, spans = [], []
        for ids in prompt_ids:
            for lab in label_ids:
                base = self._clip(ids, len(lab))
                seqs.append(base + lab)
                spans.append((len(base), lab))
        # token lab[j] is predicted at position start + j - 1
        wanted = [list(range(start - 1, start - 1 + len(lab))) for start, lab in spans]
        rows: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
        # A prompt's labels (and prompts that share demonstrations) share its tokens: run them once. The
        # prefix stops before the first position read, the prompt's last token, which predicts the label.
        groups = prefix_groups(seqs) if self.share_prefixes else [(0, list(range(len(seqs))))]
        groups = [(min([length] + [wanted[i][0] for i in members]), members) for length, members in groups]
        shared = [(length, members) for length, members in groups if length >= MIN_PREFIX and len(members) > 1]
        for i, row in self._after_prefixes(seqs, shared, wanted).items():
            rows[i] = row
        whole = [i for length, members in groups if length < MIN_PREFIX or len(members) == 1 for i in members]
        for i, row in zip(whole, self._forward([seqs[i] for i in whole], [wanted[i] for i in whole])):
            rows[i] = row
        flat = [logp[torch.arange(len(lab)), torch.tensor(lab)].sum() for logp, (_, lab) in zip(rows, spans)]
        n = len(label_ids)
        return [torch.stack(flat[i * n : (i + 1) * n]) for i in range(len(prompt_ids))]

    def classify(self, prompts: Sequence[str], continuations: Sequence[str]) -> torch.Tensor:
        """Index of the most likely continuation for each prompt."""
        return self.label_logprobs(prompts, continuations).argmax(-1)


def check_device(device: str) -> torch.device:
    """A usable torch device, or a one-line ConfigError naming the bad value."""
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for but CUDA is not available here")
    if target.type not in ("cpu", "cuda", "mps", "xpu"):
        raise ConfigError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    return target


def hide_load_progress() -> None:
    """No "Loading weights" bars from transformers or the hub (``--no-progress``)."""
    require("transformers", "metaopt[llm]")
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging

    logging.disable_progress_bar()
    disable_progress_bars()


def _load_pretrained(folder: str | Path, dtype: torch.dtype, **kwargs: Any) -> tuple[Any, Any]:
    """Model and tokenizer from a hub name or folder (``gguf_file=`` for a GGUF); a one-line error if absent."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prompting._sources import from_hub

    try:
        tokenizer = from_hub(AutoTokenizer.from_pretrained, str(folder), "--model", **kwargs)
        model = from_hub(AutoModelForCausalLM.from_pretrained, str(folder), "--model", dtype=dtype, **kwargs)
    except OSError as exc:
        raise ConfigError(f"could not load causal LM {str(folder)!r}: {str(exc).splitlines()[0]}") from exc
    return model, tokenizer


def _load_gguf(gguf: Path, dtype: torch.dtype) -> tuple[Any, Any]:
    """A GGUF's model, de-quantised once and kept as safetensors under the cache, so later loads read plain
    weights. The first load converts and returns the converted model itself: the weights are read once."""
    folder = cache_root() / (gguf.stem.lower() + "-f32")
    if _converted(folder):
        return _load_pretrained(folder, dtype)
    require("gguf", "metaopt[llm]")
    require("accelerate", "metaopt[llm]")
    from safetensors.torch import save_model

    model, tokenizer = _load_pretrained(gguf.parent, torch.float32, gguf_file=gguf.name)
    config = model.config
    if hasattr(config, "quantization_config"):  # the weights are plain float32 now
        del config.quantization_config
    # Each process writes its own folder, renamed into place at the end: a crash mid-write leaves only that
    # .partial folder, and of two first loads at once (a protocol's families in parallel) the first rename wins
    # while the other keeps its converted model and drops its copy.
    tmp = private_sibling(folder, ".partial")
    try:
        tmp.mkdir(parents=True)
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))  # save_model copes with the tied embedding
        try:
            tmp.rename(folder)
        except OSError:
            if not _converted(folder):  # not another process's finished copy: an incomplete leftover
                shutil.rmtree(folder)
                tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model.to(dtype), tokenizer


def _converted(folder: Path) -> bool:
    return (folder / "model.safetensors").exists() and (folder / "config.json").exists()
