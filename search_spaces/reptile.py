"""Reptile (Nichol et al. 2018).

Two regimes, both in the space:
- ours (``metaopt`` defaults): inner SGD at 0.02 (sinusoid) / 0.1 (glyphs), 5 steps;
- the paper's: inner Adam at 1e-3 with beta1 = 0 (their code sets ``beta1=0`` so Adam's momentum
  does not carry across tasks), 5 (Omniglot) to 8-10 (miniImageNet) steps.
Outer step size epsilon 1.0 linearly annealed to 0 (the paper's 5-way schedule), searched over
[0.1, 1]; meta-batch 5 in the paper, searched with the others. Reptile is first order by design.
"""

from __future__ import annotations

from typing import Any

from search_spaces._common import gbml, outer


def space(trial: Any) -> dict[str, Any]:
    params = gbml(trial, sgd_lr=(1e-3, 0.5), adam_lr=(1e-4, 1e-2), steps=(1, 10), first_order=True,
                  optimizers=("sgd", "adam"))
    if params["inner_optimizer"] == "adam":
        params["adam_beta1"] = trial.suggest_categorical("adam_beta1", [0.0, 0.9])
    return {**params, **outer(trial, lr=(0.1, 1.0), meta_batches=(4, 5, 8, 16, 32))}
