"""The peers' baselines on fakes: label-balanced kNN, bootstrap few-shot with random search, and contextual
calibration (on a fake LM whose label prior is known)."""

from __future__ import annotations

import torch

from prompting.calibration import CONTENT_FREE, calibrate, content_free_prior
from prompting.comparison import CompareConfig, compare
from prompting.selectors import make_selector
from prompting.selectors.balanced import balanced_picks


def _task(family, seed=0):
    task = family.tasks("test", 1, seed, ways=4, pool_per_class=6, queries_per_class=3)[0]
    return task, dict(zip(task.classes, task.verbalisers))


def test_balanced_picks_one_per_class_nearest_last():
    sims = torch.tensor([0.9, 0.8, 0.1, 0.5, 0.4, 0.2]).numpy()
    labels = ["a", "a", "b", "c", "c", "a"]
    assert balanced_picks(sims, labels, 3) == [2, 3, 0]  # the nearest a, b and c, least similar first
    assert balanced_picks(sims, labels, 5) == [2, 4, 3, 1, 0]  # then the second nearest of a and c
    assert balanced_picks(sims, labels, 10) == [2, 5, 4, 3, 1, 0]


def test_balanced_knn_shows_every_class(family, fake_lm, fake_encoder):
    task, labels = _task(family)
    sel = make_selector("balanced_knn").fit(task.pool, lm=fake_lm, labels=labels, encoder=fake_encoder)
    knn = make_selector("knn").fit(task.pool, lm=fake_lm, labels=labels, encoder=fake_encoder)
    for q in task.queries:
        got = sel.select(q.text, 4)
        assert {e.label for e in got} == set(task.classes)
        assert got[-1] == knn.select(q.text, 1)[0]  # the nearest example overall sits next to the query


def test_bootstrap_keeps_the_best_random_set_by_validation_accuracy(family, fake_lm, fake_encoder):
    task, labels = _task(family)
    sel = make_selector("bootstrap", num_sets=6, val_size=5).fit(task.pool, lm=fake_lm, labels=labels, seed=2)
    chosen = sel.select(task.queries[0].text, 3)
    assert len(fake_lm.prompts) == 6 * 5  # num_sets x val_size prompts, spent once for this k
    assert all(sel.select(q.text, 3) == chosen for q in task.queries)  # one fixed set for every query
    assert len(fake_lm.prompts) == 30
    assert not set(chosen) & set(sel.val)  # validation examples are not demonstrations
    # Re-score every candidate set: the chosen one has the highest validation accuracy.
    names = list(labels)
    blocks = [fake_lm.prompts[i * 5:(i + 1) * 5] for i in range(6)]
    accs = []
    for block in blocks:
        scores = fake_lm.label_logprobs(block, [" " + v for v in labels.values()])
        accs.append(float((scores.argmax(-1) == torch.tensor([names.index(v.label) for v in sel.val])).float().mean()))
    assert sel.val_accuracy[3] == max(accs)
    other = make_selector("bootstrap", num_sets=6, val_size=5).fit(task.pool, lm=fake_lm, labels=labels, seed=3)
    assert other.select(task.queries[0].text, 3) != chosen or other.val != sel.val


class PriorLM:
    """The fake LM plus a fixed bias toward the first label: its content-free prior is softmax(bias)."""

    bias = torch.tensor([3.0, 0.0, 0.0, 0.0])

    def __init__(self, fair) -> None:
        self.fair, self.prompts = fair, []

    def label_logprobs(self, prompts, continuations):
        self.prompts += list(prompts)
        return torch.log_softmax(self.fair.label_logprobs(prompts, continuations) + self.bias, dim=-1)


def test_calibration_recovers_a_known_prior_and_removes_it(family, fake_lm):
    task, labels = _task(family)
    lm = PriorLM(type(fake_lm)())
    demos = [list(task.pool[:2]), [], list(task.pool[:2])]
    prior = content_free_prior(lm, labels, demos)
    assert torch.allclose(prior, torch.softmax(PriorLM.bias, 0).expand(3, 4), atol=1e-6)
    assert len(lm.prompts) == 2 * len(CONTENT_FREE)  # repeated demonstration lists are asked once
    from prompting.prompt import build_prompt, continuations

    prompt = [build_prompt(labels, list(task.pool[:6]), task.queries[0].text)]
    fair = fake_lm.label_logprobs(prompt, continuations(labels))
    assert fair.std() > 0  # the query shares keywords with some demonstrations
    got = calibrate(lm.label_logprobs(prompt, continuations(labels)), prior[:1])
    assert torch.allclose(got - got[:, :1], fair - fair[:, :1], atol=1e-5)  # the bias is gone exactly


def test_calibrated_rows_undo_the_bias_for_any_selector(family, fake_lm, fake_encoder):
    cfg = CompareConfig("synthetic", ("zero", "knn", "balanced_knn"), (2, 4), tasks=2, pool_per_class=6,
                        queries_per_class=2, calibration="both", protonet=False)
    biased = compare(cfg, family=family, lm=PriorLM(type(fake_lm)()), encoder=fake_encoder).per_task
    plain = compare(CompareConfig(**{**cfg.__dict__, "calibration": "off"}), family=family, lm=fake_lm,
                    encoder=fake_encoder).per_task
    for name in ("knn", "balanced_knn"):
        for k in (2, 4):
            assert biased[f"{name}+cc@{k}"] == plain[f"{name}@{k}"]  # calibration removes the known prior
        assert sum(biased[f"{name}@4"]) < sum(plain[f"{name}@4"])  # which had hurt


def test_bootstrap_and_learned_spend_the_same_lm_prompts_by_default(family, fake_lm, fake_encoder):
    task = family.tasks("test", 1, 0, ways=4, pool_per_class=8, queries_per_class=2)[0]
    labels = dict(zip(task.classes, task.verbalisers))
    make_selector("bootstrap").fit(task.pool, lm=fake_lm, labels=labels, seed=0).select(task.queries[0].text, 4)
    spent = len(fake_lm.prompts)
    make_selector("learned").fit(task.pool, lm=fake_lm, labels=labels, encoder=fake_encoder, seed=0)
    assert spent == len(fake_lm.prompts) - spent == 144  # at one k: "better at equal LM calls" is a fair test
