"""LM feedback in context (each candidate after the query's nearest pool examples) and the scorer's weight on
class prototypes."""

from __future__ import annotations

import re

import numpy as np
import torch

from prompting.selectors._feedback import Feedback, class_prototypes, lm_feedback
from prompting.selectors._scorer import FeedbackTensors, ResidualScorer, guarded_scorer, ranking_value

_DEMOS = re.compile(r"Text: (.*?)\nLabel: .*?\n\n", re.S)


class RecordingLM:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def label_logprobs(self, prompts, continuations):
        self.prompts += list(prompts)
        return torch.log_softmax(torch.zeros(len(prompts), len(continuations)), dim=-1)


def _parts(prompt: str) -> tuple[list[str], str]:
    return _DEMOS.findall(prompt), prompt.rsplit("Text: ", 1)[1].rsplit("\nLabel:", 1)[0]


def test_each_candidate_follows_the_querys_nearest_pool_examples(family, fake_encoder):
    task = family.tasks("test", 1, 0, ways=4, pool_per_class=6, queries_per_class=1)[0]
    labels = dict(zip(task.classes, task.verbalisers))
    keys = fake_encoder.encode([e.text for e in task.pool])
    for context in (0, 2):
        lm = RecordingLM()
        feedback = lm_feedback(task.pool, labels, lm=lm, encoder=fake_encoder, num_queries=3, num_candidates=4,
                               rng=np.random.default_rng(0), context=context)
        assert len(lm.prompts) == 3 * 5
        for f, block in zip(feedback, np.array_split(np.array(lm.prompts, dtype=object), 3)):
            qi = [e.text for e in task.pool].index(f.query)
            others = [j for j in range(len(task.pool)) if j != qi]
            nearest = sorted(others, key=lambda j: -float(keys[j] @ keys[qi]))[:context]
            shown = [task.pool[j].text for j in reversed(nearest)]  # nearest last, as kNN orders them
            *candidate_prompts, baseline = block
            assert _parts(baseline) == (shown, f.query)
            for prompt, cand in zip(candidate_prompts, f.candidates):
                assert _parts(prompt) == ([*shown, cand], f.query)
            assert not set(f.candidates) & {*shown, f.query}
            assert f.prototypes is not None and f.prototypes.shape == (4, fake_encoder.dim)


def test_class_prototypes_leave_the_query_out():
    keys = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, 4.0]])
    labels = ["a", "a", "a", "b"]
    protos = class_prototypes(keys, labels, leave_out=2)
    mean = (keys[0] + keys[1]) / 2
    assert np.allclose(protos[:3], mean / np.linalg.norm(mean))
    assert np.allclose(protos[3], [0.6, 0.8])
    assert np.allclose(class_prototypes(keys, labels, leave_out=3)[3], 0.0)  # no other example of "b"


class _Table:
    dim = 4
    vectors = {"q": [1.0, 0.0, 0.0, 0.0], "near_other": [0.9, 0.43, 0.0, 0.0], "far_same": [0.8, 0.0, 0.6, 0.0],
               "bad": [0.0, 0.0, 0.0, 1.0]}

    def encode(self, texts):
        return torch.nn.functional.normalize(torch.tensor([self.vectors[t] for t in texts]), dim=-1)


def test_the_scorer_learns_to_weigh_the_class_prototype_when_the_lm_prefers_the_querys_class():
    """kNN ranks a candidate of another class first; the LM prefers the one of the query's class, whose
    prototype points at the query. The residual cannot reorder them for this query (only the prototype
    term can), so the guard keeps training only because the prototype weight grew."""
    enc = _Table()
    protos = np.array([[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    fb = [Feedback("q", ("near_other", "far_same", "bad"), np.array([0.0, 1.0, -1.0]), group=i, prototypes=protos)
          for i in range(8)]
    data = FeedbackTensors.build(fb, enc)
    start = ResidualScorer(enc.dim, rank=0)
    assert ranking_value(start, data, 1) == 0.0  # kNN's first choice
    scorer, report = guarded_scorer(fb, enc, steps=60, rank=0, lr=0.05, folds=2, seed=0)
    assert report.steps > 0 and report.gain > 0
    assert float(scorer.proto.detach()) > 0.1 and ranking_value(scorer, data, 1) == 1.0
    # without prototypes the same feedback teaches nothing that held-out queries reward
    plain = [Feedback(f.query, f.candidates, f.gains, f.group) for f in fb]
    scorer, report = guarded_scorer(plain, enc, steps=60, rank=0, lr=0.05, folds=2, seed=0)
    assert report.steps == 0 and scorer.is_identity()


def test_scorers_saved_before_the_prototype_weight_load_at_zero():
    old = ResidualScorer(8, rank=2).state_dict()
    del old["proto"]
    scorer = ResidualScorer(8, rank=2)
    scorer.load_state_dict(old)
    assert float(scorer.proto.detach()) == 0.0
