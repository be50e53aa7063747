"""Selector logic on fakes: one signature, seeded, documented order, and learning from LM feedback."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from metaopt.errors import ConfigError
from prompting.comparison import CompareConfig, compare
from prompting.selectors import SELECTORS, make_selector
from prompting.selectors.bm25 import bm25_scores, tokenize
from prompting.selectors.meta import MetaLearned


def words(text: str) -> set[str]:  # the fakes' tokenisation (see conftest)
    return set(re.findall(r"\w+", text.lower()))


def _task(family, seed=0, split="test"):
    task = family.tasks(split, 1, seed, ways=4, pool_per_class=6, queries_per_class=3)[0]
    return task, dict(zip(task.classes, task.verbalisers))


def _fit(name, family, task, labels, fake_lm, fake_encoder, seed=0, **params):
    selector = make_selector(name, steps=60, **params)
    if name == "meta":
        selector = selector.meta_train(family, lm=fake_lm, encoder=fake_encoder, seed=seed, ways=4,
                                       pool_per_class=6, queries_per_class=3)
    return selector.fit(task.pool, lm=fake_lm, labels=labels, encoder=fake_encoder, seed=seed)


@pytest.mark.parametrize("name", list(SELECTORS))
def test_shared_signature_seeded_and_picks_from_pool(name, family, fake_lm, fake_encoder):
    task, labels = _task(family)
    a = _fit(name, family, task, labels, fake_lm, fake_encoder, seed=3)
    b = _fit(name, family, task, labels, fake_lm, fake_encoder, seed=3)
    for q in task.queries[:4]:
        for k in (0, 1, 4, 8):
            got = a.select(q.text, k)
            assert got == b.select(q.text, k)
            assert len(got) == (0 if name == "zero" else k)
            assert len(set(got)) == len(got) and all(e in task.pool for e in got)
    with pytest.raises(ConfigError):
        a.select(task.queries[0].text, -1)


def test_random_depends_on_seed_and_query_not_call_order(family, fake_lm, fake_encoder):
    task, labels = _task(family)
    sel = make_selector("random").fit(task.pool, lm=fake_lm, labels=labels, seed=0)
    q1, q2 = task.queries[0].text, task.queries[1].text
    first = sel.select(q1, 4)
    sel.select(q2, 4)
    assert sel.select(q1, 4) == first
    assert sel.select(q1, 2) == first[:2]  # one permutation per query: k-sets are nested
    other = make_selector("random").fit(task.pool, lm=fake_lm, labels=labels, seed=1)
    assert any(other.select(q.text, 4) != sel.select(q.text, 4) for q in task.queries)


def test_knn_orders_most_similar_last(family, fake_lm, fake_encoder):
    task, labels = _task(family)
    sel = make_selector("knn").fit(task.pool, lm=fake_lm, labels=labels, encoder=fake_encoder)
    q = task.queries[0].text
    chosen = sel.select(q, 5)
    qv = fake_encoder.encode([q])[0]
    sims = [float(fake_encoder.encode([e.text])[0] @ qv) for e in chosen]
    assert sims == sorted(sims)
    rest = [float(fake_encoder.encode([e.text])[0] @ qv) for e in task.pool if e not in chosen]
    assert max(rest) <= sims[0] + 1e-6


def test_bm25_matches_hand_computation_and_orders_best_last(family, fake_lm):
    docs = [tokenize("the cat sat"), tokenize("the dog"), tokenize("cat cat cat")]
    n, avg = 3, 8 / 3
    idf_cat = np.log(1 + (n - 2 + 0.5) / (2 + 0.5))
    expected = [idf_cat * 1 * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 3 / avg)), 0.0,
                idf_cat * 3 * 2.5 / (3 + 1.5 * (0.25 + 0.75 * 3 / avg))]
    assert np.allclose(bm25_scores(docs, ["cat"]), expected)
    task, labels = _task(family)
    sel = make_selector("bm25").fit(task.pool, lm=fake_lm, labels=labels)
    q = task.queries[0].text
    chosen = sel.select(q, 3)
    overlaps = [len(words(q) & words(e.text)) for e in chosen]
    assert overlaps[-1] == max(len(words(q) & words(e.text)) for e in task.pool)


def test_learned_and_meta_need_an_encoder_and_meta_needs_training(family, fake_lm):
    task, labels = _task(family)
    with pytest.raises(ConfigError, match="encoder"):
        make_selector("learned").fit(task.pool, lm=fake_lm, labels=labels)
    with pytest.raises(ConfigError, match="meta-trained"):
        MetaLearned().fit(task.pool, lm=fake_lm, labels=labels)
    with pytest.raises(ConfigError):
        make_selector("learned", temperature=0.0)
    with pytest.raises(ConfigError, match="unknown selector"):
        make_selector("oracle")


def test_learned_selector_learns_from_lm_feedback(family, fake_lm, fake_encoder):
    """Feedback from the fake LM rewards on-topic demonstrations, which filler words hide from the
    bag-of-words encoder; the trained selectors must find more of them than an untrained scorer (kNN)."""

    def keyword_hits(sel, task):
        hits = 0
        for q in task.queries:
            qk = {w for w in words(q.text) if w.startswith("kw")}
            hits += sum(bool(qk & words(e.text)) for e in sel.select(q.text, 2))
        return hits

    tasks = family.tasks("test", 4, 0, ways=4, pool_per_class=6, queries_per_class=3)
    totals = {"knn": 0, "learned": 0, "meta": 0}
    meta = make_selector("meta", steps=200, meta_tasks=8).meta_train(
        family, lm=fake_lm, encoder=fake_encoder, seed=0, ways=4, pool_per_class=6, queries_per_class=3)
    for i, task in enumerate(tasks):
        labels = dict(zip(task.classes, task.verbalisers))
        for name, selector in (("knn", make_selector("knn")), ("learned", make_selector("learned", steps=200)),
                               ("meta", meta)):
            fitted = selector.fit(task.pool, lm=fake_lm, labels=labels, encoder=fake_encoder, seed=i)
            totals[name] += keyword_hits(fitted, task)
    assert totals["learned"] > totals["knn"]
    assert totals["meta"] > totals["knn"]


def test_meta_training_uses_only_training_classes(family, fake_lm, fake_encoder):
    make_selector("meta", meta_tasks=3, steps=5).meta_train(
        family, lm=fake_lm, encoder=fake_encoder, seed=0, ways=4, pool_per_class=6, queries_per_class=3)
    test_topics = {family.verbalisers[c] for c in family.classes("test")}
    seen = {line.split("Label: ")[1] for p in fake_lm.prompts for line in p.split("\n") if "Label: " in line}
    assert seen and not seen & test_topics


def test_meta_training_resumes_from_its_feedback_file(tmp_path, family, fake_lm, fake_encoder):
    """A run killed after two tasks' feedback resumes at the third, scores no task twice and ends with the
    scorer and prompt count of an uninterrupted run; a file from another setting is refused."""
    sizes = {"ways": 4, "pool_per_class": 6, "queries_per_class": 3}
    template = make_selector("meta", meta_tasks=4, steps=20)
    whole = template.meta_train(family, lm=fake_lm, encoder=fake_encoder, seed=0, **sizes)
    per_task = len(fake_lm.prompts) // 4

    fake = type(fake_lm)

    class Killed(fake):
        name = fake.__name__  # the same LM as far as the file's key goes

        def label_logprobs(self, prompts, continuations):
            if len(self.prompts) >= 2 * per_task:
                raise KeyboardInterrupt
            return super().label_logprobs(prompts, continuations)

    path = tmp_path / "meta.feedback.json"
    with pytest.raises(KeyboardInterrupt):
        template.meta_train(family, lm=Killed(), encoder=fake_encoder, seed=0, feedback_file=path, **sizes)
    again = fake()
    resumed = template.meta_train(family, lm=again, encoder=fake_encoder, seed=0, feedback_file=path, **sizes)
    assert len(again.prompts) == 2 * per_task
    assert resumed.feedback_prompts == whole.feedback_prompts == 4 * per_task
    for a, b in zip(whole._scorer.state_dict().values(), resumed._scorer.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="seed"):
        template.meta_train(family, lm=fake(), encoder=fake_encoder, seed=1, feedback_file=path, **sizes)


def test_a_planted_pickle_as_the_feedback_file_is_refused_and_never_run(tmp_path, family, fake_lm, fake_encoder):
    import pickle

    ran = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (ran.touch, ())

    path = tmp_path / "meta.feedback.json"
    path.write_bytes(pickle.dumps({"key": {}, "tasks": {}, "x": Payload()}))
    template = MetaLearned(steps=5, meta_tasks=2, train_queries=2)
    with pytest.raises(ConfigError, match="not a feedback file"):
        template.meta_train(family, lm=fake_lm, encoder=fake_encoder, seed=0, feedback_file=path, ways=3,
                            pool_per_class=4, queries_per_class=1)
    assert not ran.exists()


def test_compare_scores_every_selector_and_k_on_the_same_tasks(family, fake_lm, fake_encoder):
    cfg = CompareConfig("synthetic", ("zero", "random", "knn", "meta"), (1, 2), tasks=2, seeds=(0, 1),
                        pool_per_class=6, queries_per_class=2, selector_params={"steps": 20, "meta_tasks": 3},
                        protonet_iterations=5)
    result = compare(cfg, family=family, lm=fake_lm, encoder=fake_encoder)
    keys = {(r["method"], r["k"]) for r in result.rows}
    assert ("zero", 0) in keys and ("zero", 1) not in keys
    assert {("random", 1), ("knn", 2), ("meta", 2), ("protonet", 1), ("prototypes", 24)} <= keys
    assert all(r["n_tasks"] == 4 for r in result.rows)
    assert all(0 <= r["mean"] <= 1 for r in result.rows)
    by = {(r["method"], r["k"]): r["mean"] for r in result.rows}
    assert by[("knn", 2)] > by[("zero", 0)]  # on-topic neighbours beat no demonstrations on the fake LM
    again = compare(cfg, family=family, lm=fake_lm, encoder=fake_encoder)
    assert again.per_task == result.per_task
    with pytest.raises(ConfigError, match="unknown selector"):
        compare(CompareConfig("synthetic", ("best",)), family=family, lm=fake_lm, encoder=fake_encoder)
