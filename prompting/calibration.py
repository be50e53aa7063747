"""Contextual calibration (Zhao et al., 2021), a switch that applies to any selector's prompts.

An LM's label probabilities are skewed by the prompt itself (majority and recency of labels among the
demonstrations, common-token bias). Zhao et al. estimate that skew by asking the same prompt about
content-free inputs ("N/A", "[MASK]", the empty string): their mean label distribution ``p_cf`` is the bias,
and ``W = diag(p_cf)^-1`` turns a query's distribution ``p`` into ``W p``; the prediction is its argmax.
Each distinct demonstration list costs ``len(CONTENT_FREE)`` prompts (the LM's memo shares them across k,
queries and selectors that pick the same demonstrations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike, build_prompt, continuations
from prompting.tasks.base import Example

__all__ = ["CONTENT_FREE", "content_free_prompts", "content_free_prior", "calibrate"]

CONTENT_FREE = ("N/A", "[MASK]", "")


def content_free_prompts(labels: Mapping[str, str], demo_lists: Sequence[Sequence[Example]],
                         fmt: PromptFormatLike = None) -> list[str]:
    """The content-free prompts of each distinct demonstration list, as ``content_free_prior`` scores them
    (a caller may score them in the same LM call as the real prompts, which share their demonstrations).
    A multi-field input (a text pair) gets the content-free string in every field."""
    keys = dict.fromkeys(tuple(d) for d in demo_lists)
    return [build_prompt(labels, list(demos), cf, fmt) for demos in keys for cf in CONTENT_FREE]


def content_free_prior(lm: LabelScorer, labels: Mapping[str, str],
                       demo_lists: Sequence[Sequence[Example]], fmt: PromptFormatLike = None) -> torch.Tensor:
    """``[len(demo_lists), n_labels]``: the mean label distribution over the content-free inputs, per list."""
    keys = list(dict.fromkeys(tuple(d) for d in demo_lists))
    prompts = content_free_prompts(labels, demo_lists, fmt)
    probs = torch.softmax(lm.label_logprobs(prompts, continuations(labels, fmt)).float(), dim=-1)
    prior = probs.view(len(keys), len(CONTENT_FREE), -1).mean(1)
    row = {key: i for i, key in enumerate(keys)}
    return prior[[row[tuple(d)] for d in demo_lists]]


def calibrate(logprobs: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Calibrated log-scores ``log softmax(logprobs) - log prior`` (argmax = argmax of ``diag(prior)^-1 p``)."""
    return torch.log_softmax(logprobs.float(), dim=-1) - prior.clamp_min(1e-12).log()
