"""``metaopt prompt compare`` on a labelled dataset with a fixed label set (``--dataset`` or ``--train/--test``).

Each seed draws one pool from the train split and one set of queries from the test split (Zhao et al. 2021:
5 draws, 300 test examples); every selector is scored on the same queries with the same pool, so its
difference against kNN is paired query by query. Accuracy is reported as the mean over seeds with a t-interval
over seeds, the difference against kNN with a t-interval over all (seed, query) pairs, and every query's
prediction is kept (``per_query``) so anyone can recompute both.

``meta`` is meta-trained on *other* datasets' train splits (leave-one-dataset-out, as UDR and LLM-R test
transfer) and used unchanged here; its guard chooses on those datasets' tasks only. No selector ever sends a
test example to the LM while it fits: the learned selectors' feedback queries come from the pool.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from metaopt.errors import ConfigError
from metaopt.tasks.base import task_rng
from prompting.comparison import CompareConfig, CompareResult, score_task
from prompting.datasets.base import LabelledDataset
from prompting.encoder import TextEncoder
from prompting.lm import LabelScorer
from prompting.prompt import PromptFormatLike
from prompting.selectors import make_selector
from prompting.selectors.meta import MetaLearned
from prompting.tasks.base import TextTask

__all__ = ["DatasetCompareConfig", "DatasetCompareResult", "DatasetMix", "compare_dataset", "summary_rows",
           "DATASET_SELECTORS"]

DATASET_SELECTORS = ("zero", "random", "knn", "balanced_knn", "bm25", "bootstrap", "learned")


@dataclass
class DatasetCompareConfig:
    """Which selectors at which k on which dataset. ``shots`` may hold 0 (the zero-shot row); ``pool`` None is
    the whole train split; ``meta_datasets`` are the datasets the ``meta`` selector is meta-trained on."""

    dataset: str
    selectors: tuple[str, ...] = DATASET_SELECTORS
    shots: tuple[int, ...] = (4,)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    pool: int | None = None
    queries: int = 300
    selector_params: dict[str, Any] = field(default_factory=dict)
    calibration: str = "off"  # "off", "on" or "both", as in CompareConfig
    chat: bool = False
    template: str | None = None
    meta_datasets: tuple[str, ...] = ()
    # how a user's files were read and verbalised (None: the dataset's own), so a resume cannot mix two readings
    verbalizer: str | None = None
    fields: str | None = None

    def validate(self) -> None:
        if not self.shots:  # the harness's own check (below) sees only the positive k values
            raise ConfigError("need at least one k")
        if any(k < 0 for k in self.shots):
            raise ConfigError(f"--shots must be 0 or more, got {self.shots}")
        if self.queries < 1 or (self.pool is not None and self.pool < 2):
            raise ConfigError(f"--queries must be positive and --pool at least 2, got {self.queries}, {self.pool}")
        if "meta" in self.selectors and not self.meta_datasets:
            raise ConfigError("the meta selector needs other datasets to meta-train on (--meta-datasets)")
        if self.dataset in self.meta_datasets:
            raise ConfigError(f"--meta-datasets must not hold the dataset scored ({self.dataset}): meta is tested "
                              "on a dataset it never saw")
        self.harness().validate()  # selectors known, at least one of them and one seed, their parameters

    def harness(self) -> CompareConfig:
        """The class-split harness's config that :func:`~prompting.comparison.score_task` reads (its k values
        and calibration; no ProtoNets column: there are no held-out classes here)."""
        positive = tuple(k for k in self.shots if k > 0) or (1,)
        return CompareConfig(self.dataset, self.selectors, positive, 1, self.seeds,
                             selector_params=self.selector_params, protonet=False, calibration=self.calibration)

    def scored_selectors(self) -> tuple[str, ...]:
        """The selectors run: zero-shot is one row, there whenever ``zero`` is asked for or k = 0 is."""
        names = [s for s in self.selectors if s != "zero" and any(k > 0 for k in self.shots)]
        return tuple((["zero"] if "zero" in self.selectors or 0 in self.shots else []) + names)


@dataclass
class DatasetCompareResult(CompareResult):
    """``per_task`` holds one accuracy per seed; ``per_query[method@k]`` the predicted class index of every
    query, seed after seed, beside ``gold`` and ``query_ids`` (indices into the test split) in the same order.
    ``classes`` are the dataset's labels in index order."""

    per_query: dict[str, list[int]] = field(default_factory=dict)
    gold: list[int] = field(default_factory=list)
    query_ids: list[int] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)


class DatasetMix:
    """Tasks from several datasets' *train* splits (task ``i`` from dataset ``i mod n``, a pool of ``pool``
    examples), the ground ``meta`` is meta-trained on; it quacks like a task family for ``meta_train``."""

    def __init__(self, datasets: Sequence[LabelledDataset], *, pool: int = 64,
                 wrap: Callable[[Any], PromptFormatLike] | None = None) -> None:
        if not datasets:
            raise ConfigError("the meta selector needs at least one other dataset to meta-train on")
        self.datasets, self.pool, self.wrap = list(datasets), pool, wrap
        self.name = "+".join(d.name for d in self.datasets) + ("+chat" if wrap is not None else "")

    def tasks(self, split: str, n: int, seed: int, **_: int) -> list[TextTask]:
        if split != "train":
            raise ConfigError("datasets are meta-trained on their train splits only")
        out = []
        for i in range(n):
            d = self.datasets[i % len(self.datasets)]
            rng = task_rng(seed, 7727, 0, i)
            picks = rng.choice(len(d.train), size=min(self.pool, len(d.train)), replace=False)
            fmt = d.prompt_format if self.wrap is None else self.wrap(d.prompt_format)
            out.append(TextTask(d.classes, d.verbalisers, tuple(d.train[int(j)] for j in picks), (), fmt))
        return out


def summary_rows(per_task: Mapping[str, list[float]], per_query: Mapping[str, list[int]],
                 gold: Sequence[int]) -> list[dict[str, Any]]:
    """The table's rows from the raw scores: mean over seeds with a t-interval over seeds, and the difference
    against kNN paired by query (a calibrated row against calibrated kNN)."""
    from metaopt.stats import ci_or_none
    from prompting.stats import mean_t95

    truth = np.asarray(gold)
    rows = []
    for key, scores in per_task.items():
        method, _, k = key.rpartition("@")
        mean, ci = mean_t95(scores)
        row: dict[str, Any] = {"method": method, "k": int(k), "mean": mean, "ci95": ci_or_none(ci),
                               "n_tasks": len(scores), "n_seeds": len(scores), "n_queries": len(per_query[key])}
        # like against like: a calibrated row against calibrated kNN (kNN+cc itself against plain kNN)
        base = "knn+cc" if method.endswith("+cc") and method != "knn+cc" and f"knn+cc@{k}" in per_query else "knn"
        knn = per_query.get(f"{base}@{k}")
        n = min(len(per_query[key]), len(knn or ()))  # seed by seed in the same order: the first n are pairs
        if method != "knn" and n:
            mine, theirs = np.asarray(per_query[key][:n]), np.asarray(knn[:n])  # type: ignore[index]
            diff = (mine == truth[:n]).astype(float) - (theirs == truth[:n]).astype(float)
            d_mean, d_ci = mean_t95(diff.tolist())
            row.update(vs_knn=d_mean, vs_knn_ci95=ci_or_none(d_ci), vs_knn_pairs=len(diff), vs=base)
        rows.append(row)
    return rows


def compare_dataset(cfg: DatasetCompareConfig, *, dataset: LabelledDataset, lm: LabelScorer, encoder: TextEncoder,
                    meta_datasets: Sequence[LabelledDataset] = (), prompt_format: PromptFormatLike = None,
                    wrap: Callable[[Any], PromptFormatLike] | None = None, progress: bool = False,
                    on_seed: Callable[[DatasetCompareResult], None] | None = None,
                    resume: Mapping[str, Any] | None = None,
                    feedback_file: Callable[[int], str | os.PathLike[str]] | None = None) -> DatasetCompareResult:
    """Score every selector at every k on ``cfg.queries`` test queries per seed; see the module docstring.

    ``prompt_format`` overrides the dataset's own (the chat wrapper); ``wrap`` does the same for the meta
    datasets' formats. ``on_seed`` gets the result so far after each selector of each seed; ``resume`` is such a
    partial result of the same configuration (its selectors' seeds are kept and the rest is scored: the numbers
    are those of an uninterrupted run). ``feedback_file(seed)`` keeps meta's feedback so an interrupted
    meta-training resumes.
    """
    cfg.validate()
    harness = cfg.harness()
    start = time.perf_counter()
    per_task: dict[str, list[float]] = {}
    per_query: dict[str, list[int]] = {}
    gold: list[int] = []
    query_ids: list[int] = []
    selection: dict[str, int] = {}
    n_prompts, before = 0, 0.0
    if resume is not None:
        check_dataset_resumable(cfg, resume)
        per_task = {k: list(v) for k, v in resume["per_task"].items()}
        per_query = {k: list(v) for k, v in resume["per_query"].items()}
        gold, query_ids = list(resume["gold"]), list(resume["query_ids"])
        selection, n_prompts, before = dict(resume["selection_prompts"]), resume["lm_prompts"], resume["seconds"]

    def result() -> DatasetCompareResult:
        return DatasetCompareResult(asdict(cfg), summary_rows(per_task, per_query, gold), per_task,
                                    round(before + time.perf_counter() - start, 1), n_prompts, dict(selection),
                                    per_query, gold, query_ids, list(dataset.classes))

    names = cfg.scored_selectors()
    variants = {"off": ("",), "on": ("+cc",), "both": ("", "+cc")}[cfg.calibration]

    def finished(name: str, s: int) -> bool:  # every row of this selector has seed number s already
        ks = (0,) if name == "zero" else harness.shots
        return all(len(per_task.get(f"{name}{v}@{k}", ())) > s for v in variants for k in ks)

    mix = DatasetMix(meta_datasets, wrap=wrap) if "meta" in names else None
    done = sum(finished(name, s) for s in range(len(cfg.seeds)) for name in names)
    bar = tqdm(total=len(cfg.seeds) * len(names), initial=done, disable=not progress, desc=dataset.name,
               unit="selector")
    for s, seed in enumerate(cfg.seeds):
        if all(finished(name, s) for name in names):
            continue
        task = dataset.task(seed, pool=cfg.pool, queries=cfg.queries, prompt_format=prompt_format)
        if len(gold) < (s + 1) * len(task.queries):  # the seed's queries, recorded when it starts
            gold.extend(task.label_index(q) for q in task.queries)
            query_ids.extend(dataset.draw(seed, pool=cfg.pool, queries=cfg.queries)[1])
        preds: dict[str, list[int]] = {}
        for name in names:
            if finished(name, s):
                continue  # scored before a stop: a selector's rows depend only on the seed, never on the others
            bar.set_description(f"{dataset.name} seed {seed} {name}")
            torch.manual_seed(seed)
            selector = make_selector(name, **cfg.selector_params)
            if name == "meta" and mix is not None:
                assert isinstance(selector, MetaLearned)
                selector = selector.meta_train(mix, lm=lm, encoder=encoder, seed=seed,  # type: ignore[arg-type]
                                               feedback_file=None if feedback_file is None else feedback_file(seed))
                selection["meta (meta-training)"] = selection.get("meta (meta-training)", 0) + selector.feedback_prompts

            def heard(selector_name: str, done_prompts: int, total: int, before: int = n_prompts) -> None:
                spent = before + done_prompts + sum(selection.values())
                bar.set_postfix_str(f"query {done_prompts}/{total}, {spent} LM prompts")

            # One selector at a time (same seed and queries as all at once) so the bar can say which one runs,
            # and its prompts in chunks whether the bar shows or not, so --no-progress scores the same batches.
            scores, n = score_task(harness, task, seed, selectors={name: selector}, proto=None, lm=lm,
                                   encoder=encoder, selection=selection, predictions=preds, on_prompts=heard)
            n_prompts += n
            for key, value in scores.items():
                per_task.setdefault(key, []).append(value)
                per_query.setdefault(key, []).extend(preds[key])
            bar.set_postfix_str(f"{n_prompts + sum(selection.values())} LM prompts")
            bar.update()
            if on_seed is not None:
                on_seed(result())
    bar.close()
    return result()


def check_dataset_resumable(cfg: DatasetCompareConfig, saved: Mapping[str, Any]) -> None:
    """A partial result fits ``cfg`` only if it was made with the same configuration, except that the seeds may
    grow or shrink at the end (``--seeds 2`` then ``--seeds 5`` goes on from the third seed: a seed's numbers
    depend on that seed alone) as long as no seed it holds numbers for is dropped."""
    have = json.loads(json.dumps(saved.get("config", {})))
    want = json.loads(json.dumps(asdict(cfg)))
    changed = sorted(k for k in want if k != "seeds" and have.get(k) != want[k])
    if changed:
        raise ConfigError(f"cannot resume: the saved result was made with other {', '.join(changed)} "
                          f"({', '.join(f'{k}={have.get(k)!r}' for k in changed)})")
    needed = ("per_task", "per_query", "gold", "query_ids", "selection_prompts", "lm_prompts", "seconds")
    if any(k not in saved for k in needed) or set(saved["per_task"]) != set(saved["per_query"]):
        raise ConfigError("cannot resume: the saved result is not a partial result of prompt compare")
    old, new = list(have.get("seeds") or []), list(want["seeds"])
    scored = max((len(v) for v in saved["per_task"].values()), default=0)
    common = min(len(old), len(new))
    if old[:common] != new[:common] or scored > len(new):
        raise ConfigError(f"cannot resume: the saved result holds seeds {old[:max(scored, 1)]}; --seed/--seeds may "
                          f"only add seeds after them (asked for {new})")
