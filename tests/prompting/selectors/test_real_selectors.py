"""The new selectors and the guard on the real SmolLM2-135M and MiniLM (small sizes; marked slow)."""

from __future__ import annotations

import pytest
import torch

from prompting.calibration import calibrate, content_free_prior
from prompting.prompt import build_prompt, continuations
from prompting.selectors import make_selector
from prompting.tasks.base import Example

ANIMALS = ["a large striped wild cat", "a domesticated canine kept as a pet", "a small rodent with a long tail",
           "a bird that hoots at night", "a horse with black and white stripes", "a large marine mammal"]
PLANTS = ["a tall tree bearing acorns", "a shrub with prickly stems and fragrant flowers", "a green plant with fronds",
          "a grass grown for its grain", "a climbing plant with woody stems", "a desert plant with spines"]


@pytest.mark.slow
def test_new_selectors_and_calibration_on_the_real_lm(real_lm, real_encoder):
    pool = [Example(t, "animal") for t in ANIMALS[:4]] + [Example(t, "plant") for t in PLANTS[:4]]
    queries = [Example(ANIMALS[4], "animal"), Example(PLANTS[4], "plant"), Example(ANIMALS[5], "animal"),
               Example(PLANTS[5], "plant")]
    labels = {"animal": "animal", "plant": "plant"}
    gold = torch.tensor([0, 1, 0, 1])
    fitted = {
        "balanced_knn": make_selector("balanced_knn"),
        "bootstrap": make_selector("bootstrap", num_sets=3, val_size=2),
        "learned": make_selector("learned", train_queries=4, num_candidates=3, steps=20, folds=2),
    }
    for name, selector in fitted.items():
        sel = selector.fit(pool, lm=real_lm, labels=labels, encoder=real_encoder, seed=0)
        demos = [sel.select(q.text, 2) for q in queries]
        assert all(len(d) == 2 and set(d) <= set(pool) for d in demos)
        if name == "balanced_knn":
            assert all({e.label for e in d} == {"animal", "plant"} for d in demos)
        if name == "learned":
            assert sel.report is not None and sel.report.steps >= 0 and sel.report.folds == 2
        scores = real_lm.label_logprobs([build_prompt(labels, d, q.text) for d, q in zip(demos, queries)],
                                        continuations(labels))
        prior = content_free_prior(real_lm, labels, demos)
        assert torch.allclose(prior.sum(1), torch.ones(len(queries)))
        assert (calibrate(scores, prior).argmax(-1) == gold).float().mean() >= 0.75  # easy prompts: above chance (0.5)
