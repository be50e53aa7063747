"""compare_dataset with the fakes: rows paired with kNN by query, meta across datasets, no test example ever
sent to the LM while a selector fits, and resume after a stop."""

from __future__ import annotations

import json

import numpy as np
import pytest

import prompting.comparison
import prompting.selectors.meta
from metaopt.errors import ConfigError
from prompting.dataset_compare import DatasetCompareConfig, compare_dataset
from prompting.datasets.base import LabelledDataset
from prompting.lm import CountingScorer
from prompting.prompt import DEFAULT_FORMAT
from prompting.tasks.base import Example


def toy(name: str = "toy", classes: int = 3, seed: int = 0, marker: str = "") -> LabelledDataset:
    """Class c's texts carry two of its keywords ``kw{c}x{j}`` (what the fake LM rewards); test texts end
    with ``marker`` so a leak of a test text into a prompt is easy to see."""
    rng = np.random.default_rng(seed)

    def ex(c: int, tail: str) -> Example:
        words = [f"kw{c}x{j}" for j in rng.choice(5, 2, replace=False)] + [f"filler{i}" for i in rng.choice(40, 4)]
        return Example(" ".join(words) + tail, f"c{c}")

    train = tuple(ex(c, "") for c in range(classes) for _ in range(30))
    test = tuple(ex(c, f" {marker}{i}" if marker else "") for c in range(classes) for i in range(15))
    return LabelledDataset(name, tuple(f"c{c}" for c in range(classes)), tuple(f"topic{c}" for c in range(classes)),
                           train, test, DEFAULT_FORMAT)


def test_rows_are_means_over_seeds_and_pairs_by_query(fake_lm, fake_encoder):
    cfg = DatasetCompareConfig("toy", ("zero", "random", "knn", "learned"), (0, 2), (0, 1), pool=20, queries=12,
                               selector_params={"steps": 10}, calibration="both")
    result = compare_dataset(cfg, dataset=toy(), lm=fake_lm, encoder=fake_encoder)
    rows = {(r["method"], r["k"]): r for r in result.rows}
    assert set(rows) == {("zero", 0), ("zero+cc", 0), ("random", 2), ("random+cc", 2), ("knn", 2), ("knn+cc", 2),
                         ("learned", 2), ("learned+cc", 2)}
    assert len(result.gold) == len(result.query_ids) == 24
    for (method, k), row in rows.items():
        preds = np.asarray(result.per_query[f"{method}@{k}"])
        correct = preds == np.asarray(result.gold)
        assert row["n_queries"] == 24 and row["n_seeds"] == 2
        assert row["mean"] == pytest.approx(correct.reshape(2, 12).mean(1).mean())
        if "vs_knn" in row:
            base = "knn+cc" if method.endswith("+cc") and method != "knn+cc" else "knn"
            assert row["vs"] == base
            knn = np.asarray(result.per_query[f"{base}@{k}"]) == np.asarray(result.gold)
            assert row["vs_knn"] == pytest.approx((correct.astype(float) - knn).mean())
            assert row["vs_knn_pairs"] == 24
    assert rows[("knn", 2)]["mean"] > rows[("zero", 0)]["mean"]  # the fake LM rewards on-topic demonstrations


def test_no_test_example_reaches_the_lm_while_selectors_fit(monkeypatch, fake_lm, fake_encoder):
    """Every prompt a selector sends itself (through the CountingScorer the harness hands it, and meta's
    meta-training) is checked for test texts; evaluation prompts go to the LM directly and are not counted."""
    seen: list[str] = []

    class Recording(CountingScorer):
        def label_logprobs(self, prompts, continuations):
            seen.extend(prompts)
            return super().label_logprobs(prompts, continuations)

    monkeypatch.setattr(prompting.comparison, "CountingScorer", Recording)
    monkeypatch.setattr(prompting.selectors.meta, "CountingScorer", Recording)
    target = toy(marker="TESTONLY")
    others = [toy("other1", 2, seed=1, marker="OTHERTEST"), toy("other2", 4, seed=2, marker="OTHERTEST")]
    cfg = DatasetCompareConfig("toy", ("learned", "bootstrap", "meta", "knn"), (2,), (0,), pool=24, queries=10,
                               selector_params={"steps": 10, "meta_tasks": 4, "train_queries": 4},
                               meta_datasets=("other1", "other2"))
    compare_dataset(cfg, dataset=target, lm=fake_lm, encoder=fake_encoder, meta_datasets=others)
    assert seen, "the LM-fed selectors sent no prompt: the check would pass vacuously"
    assert not [p for p in seen if "TESTONLY" in p or "OTHERTEST" in p]
    # and the check can fail: the evaluation prompts, sent to the LM itself, do hold the test queries
    assert any("TESTONLY" in p for p in fake_lm.prompts)


def test_meta_is_refused_without_other_datasets_and_on_its_own_dataset():
    with pytest.raises(ConfigError, match="--meta-datasets"):
        DatasetCompareConfig("toy", ("meta",)).validate()
    with pytest.raises(ConfigError, match="never saw"):
        DatasetCompareConfig("sst2", ("meta",), meta_datasets=("sst2", "trec")).validate()


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_a_stopped_comparison_resumes_to_the_same_result(stop_after, fake_lm, fake_encoder):
    """Results are kept after every selector of every seed: a stop mid-seed loses at most one selector's work,
    and the resumed run ends with the uninterrupted run's numbers."""
    cfg = DatasetCompareConfig("toy", ("random", "knn"), (2,), (0, 1, 2), pool=20, queries=8, calibration="both")
    whole = compare_dataset(cfg, dataset=toy(), lm=fake_lm, encoder=fake_encoder)
    partial: list = []

    class Stop(Exception):
        pass

    def stop(result):
        partial.append(result.to_dict())
        if len(partial) == stop_after:
            raise Stop

    with pytest.raises(Stop):
        compare_dataset(cfg, dataset=toy(), lm=type(fake_lm)(), encoder=fake_encoder, on_seed=stop)
    saved = json.loads(json.dumps(partial[-1]))  # as --out holds it
    again = type(fake_lm)()
    resumed = compare_dataset(cfg, dataset=toy(), lm=again, encoder=fake_encoder, resume=saved)
    assert resumed.per_query == whole.per_query and resumed.per_task == whole.per_task
    assert resumed.gold == whole.gold and resumed.query_ids == whole.query_ids
    assert resumed.rows == whole.rows
    assert len(again.prompts) < len(fake_lm.prompts)  # the finished selectors were not scored again
    other = DatasetCompareConfig("toy", ("random", "knn"), (4,), (0, 1, 2), pool=20, queries=8)
    with pytest.raises(ConfigError, match="shots"):
        compare_dataset(other, dataset=toy(), lm=again, encoder=fake_encoder, resume=saved)


def test_more_seeds_continue_a_finished_comparison(fake_lm, fake_encoder):
    """--seeds 2 then --seeds 3 scores only the third seed and ends with a 3-seed run's numbers; dropping a
    seed that holds numbers, or another first seed, is refused."""
    three = DatasetCompareConfig("toy", ("random", "knn"), (2,), (0, 1, 2), pool=20, queries=8)
    whole = compare_dataset(three, dataset=toy(), lm=fake_lm, encoder=fake_encoder)
    two = DatasetCompareConfig("toy", ("random", "knn"), (2,), (0, 1), pool=20, queries=8)
    first = json.loads(json.dumps(compare_dataset(two, dataset=toy(), lm=type(fake_lm)(), encoder=fake_encoder)
                                  .to_dict()))
    again = type(fake_lm)()
    grown = compare_dataset(three, dataset=toy(), lm=again, encoder=fake_encoder, resume=first)
    assert grown.per_query == whole.per_query and grown.rows == whole.rows
    assert 0 < len(again.prompts) < len(fake_lm.prompts)
    one = DatasetCompareConfig("toy", ("random", "knn"), (2,), (0,), pool=20, queries=8)
    with pytest.raises(ConfigError, match="only add seeds"):
        compare_dataset(one, dataset=toy(), lm=again, encoder=fake_encoder, resume=first)
    shifted = DatasetCompareConfig("toy", ("random", "knn"), (2,), (1, 2, 3), pool=20, queries=8)
    with pytest.raises(ConfigError, match="only add seeds"):
        compare_dataset(shifted, dataset=toy(), lm=again, encoder=fake_encoder, resume=first)
