"""The comparison harness behind ``metaopt prompt compare``: every selector at every k on held-out tasks."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from metaopt.errors import ConfigError
from prompting.calibration import calibrate, content_free_prior, content_free_prompts
from prompting.encoder import TextEncoder
from prompting.lm import CountingScorer, LabelScorer
from prompting.prompt import build_prompt, continuations
from prompting.selectors import SELECTORS, make_selector
from prompting.selectors.meta import MetaLearned
from prompting.tasks.base import TaskFamily, TextTask

__all__ = ["CompareConfig", "CompareResult", "compare", "prepare_selectors", "score_task", "selector_objective",
           "selector_scores"]


@dataclass
class CompareConfig:
    """Which selectors, shots and held-out tasks. ``tasks`` test tasks are drawn per seed; every selector
    is scored on the same tasks and queries. ``selector_params`` go to every selector that takes them."""

    family: str
    selectors: tuple[str, ...] = ("zero", "random", "knn", "bm25", "learned", "meta")
    shots: tuple[int, ...] = (1, 2, 4, 8)
    tasks: int = 2
    seeds: tuple[int, ...] = (0,)
    ways: int = 4
    pool_per_class: int = 8
    queries_per_class: int = 2
    selector_params: dict[str, Any] = field(default_factory=dict)
    protonet: bool = True
    protonet_iterations: int = 300
    split: str = "test"  # "val" when tuning selector hyperparameters, so test classes stay unseen
    # "off", "on" or "both": contextual calibration of every selector's prompts; calibrated rows are "NAME+cc".
    calibration: str = "off"

    def validate(self) -> None:
        unknown = [s for s in self.selectors if s not in SELECTORS]
        if unknown:
            raise ConfigError(f"unknown selector {unknown[0]!r}; choose from {', '.join(SELECTORS)}")
        if not self.selectors or not self.shots or not self.seeds:
            raise ConfigError("need at least one selector, one k and one seed")
        if any(k < 1 for k in self.shots):
            raise ConfigError(f"shots must be positive, got {self.shots}")
        if self.calibration not in ("off", "on", "both"):
            raise ConfigError(f"calibration must be off, on or both, got {self.calibration!r}")
        if self.split not in ("val", "test"):
            raise ConfigError(f"split must be val or test, got {self.split!r}")
        if min(self.tasks, self.ways, self.pool_per_class, self.queries_per_class) < 1:
            raise ConfigError("tasks, ways, pool and queries must be positive")
        for name in self.selectors:  # a bad hyperparameter fails here, before the slow LM and encoder loads
            try:
                make_selector(name, **self.selector_params)
            except TypeError as exc:
                raise ConfigError(f"{name} selector: {exc}") from None

    def sizes(self) -> dict[str, int]:
        return {"ways": self.ways, "pool_per_class": self.pool_per_class, "queries_per_class": self.queries_per_class}


@dataclass
class CompareResult:
    """``rows``: one per method and k with mean, ci95 (t-based over tasks, None for one task) and n_tasks,
    and where kNN ran at that k, ``vs_knn`` and ``vs_knn_ci95``: the difference against kNN paired by task
    (tasks share pools and queries, so the paired interval resolves far smaller gaps than the two means' own);
    ``per_task`` keyed ``method@k``.
    ``lm_prompts``: prompts scored to evaluate; ``selection_prompts``: prompts each selector sent to the LM
    itself while fitting and selecting (its LM budget, memo hits included)."""

    config: dict[str, Any]
    rows: list[dict[str, Any]]
    per_task: dict[str, list[float]]
    seconds: float
    lm_prompts: int
    selection_prompts: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        ks = sorted({r["k"] for r in self.rows})
        methods = list(dict.fromkeys(r["method"] for r in self.rows))
        cell = {(r["method"], r["k"]): f"{100 * r['mean']:5.1f}" + ("" if r["ci95"] is None else
                                                                    f" ± {100 * r['ci95']:4.1f}") for r in self.rows}
        width = max(12, *(len(m) + 1 for m in methods))
        lines = [f"{'method':<{width}}" + "".join(f"{'k=' + str(k):>15}" for k in ks)]
        for m in methods:
            lines.append(f"{m:<{width}}" + "".join(f"{cell.get((m, k), '-'):>15}" for k in ks))
        paired = {(r["method"], r["k"]): f"{100 * r['vs_knn']:+5.1f}" + ("" if r["vs_knn_ci95"] is None else
                  f" ± {100 * r['vs_knn_ci95']:4.1f}") for r in self.rows if "vs_knn" in r}
        if paired:
            lines += ["", f"{'vs kNN, paired':<{width}}" + "".join(f"{'k=' + str(k):>15}" for k in ks)]
            for m in dict.fromkeys(m for m, _ in paired):
                lines.append(f"{m:<{width}}" + "".join(f"{paired.get((m, k), '-'):>15}" for k in ks))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ci_rows(per_task: dict[str, list[float]]) -> list[dict[str, Any]]:
    """``ci95`` is the t-based half-width over tasks; ``None`` with one task (no interval there)."""
    from metaopt.stats import ci_or_none
    from prompting.stats import mean_t95, paired_t95

    rows = []
    for key, scores in per_task.items():
        method, _, k = key.rpartition("@")
        mean, ci = mean_t95(scores)
        row = {"method": method, "k": int(k), "mean": mean, "ci95": ci_or_none(ci), "n_tasks": len(scores)}
        knn = per_task.get(f"knn@{k}")
        if method != "knn" and knn is not None and len(knn) == len(scores):
            diff, diff_ci = paired_t95(scores, knn)
            row.update(vs_knn=diff, vs_knn_ci95=ci_or_none(diff_ci))
        rows.append(row)
    return rows


def prepare_selectors(cfg: CompareConfig, seed: int, *, family: TaskFamily, lm: LabelScorer, encoder: TextEncoder,
                      selection: dict[str, int], progress: bool = False,
                      feedback_file: str | os.PathLike[str] | None = None) -> tuple[dict[str, Any], Any]:
    """The selectors of one seed (``meta`` meta-trained on the training classes, its LM feedback kept in
    ``feedback_file`` if given, so it resumes) and the ProtoNet (or None).
    ``selection`` counts the LM prompts spent by meta-training."""
    torch.manual_seed(seed)
    selectors = {name: make_selector(name, **cfg.selector_params) for name in cfg.selectors}
    meta = selectors.get("meta")
    if isinstance(meta, MetaLearned) and not meta.trained:
        trained = meta.meta_train(family, lm=lm, encoder=encoder, seed=seed, progress=progress,
                                  feedback_file=feedback_file, **cfg.sizes())
        selectors["meta"] = trained  # its LM budget is spent once per seed for all tasks
        selection["meta (meta-training)"] = selection.get("meta (meta-training)", 0) + trained.feedback_prompts
    proto = None
    if cfg.protonet:
        from prompting.protonet import meta_train_protonet

        proto = meta_train_protonet(family, encoder, seed=seed, ways=cfg.ways, shots=cfg.pool_per_class,
                                    iterations=cfg.protonet_iterations)
    return selectors, proto


PROGRESS_CHUNK = 25  # prompts per LM call when a progress callback follows the queries


def score_task(cfg: CompareConfig, task: TextTask, fit_seed: int, *, selectors: dict[str, Any], proto: Any,
               lm: LabelScorer, encoder: TextEncoder, shots: tuple[int, ...] | None = None,
               selection: dict[str, int] | None = None,
               predictions: dict[str, list[int]] | None = None,
               on_prompts: Callable[[str, int, int], None] | None = None) -> tuple[dict[str, float], int]:
    """Accuracy of every selector at every k (``shots``, default ``cfg.shots``) on one task, keyed
    ``method@k``, and the number of prompts scored to evaluate. ``predictions``, if given, receives each
    key's predicted class index for every query (in ``task.queries`` order). Prompts are built in the task's
    ``prompt_format``. With ``on_prompts(selector, done, total)`` the prompts go to the LM in chunks of
    :data:`PROGRESS_CHUNK`, each chunk with its own content-free prompts, and the callback hears after each."""
    shots = cfg.shots if shots is None else shots
    selection = {} if selection is None else selection
    out: dict[str, float] = {}
    n_prompts = 0
    labels = dict(zip(task.classes, task.verbalisers))
    fmt = task.prompt_format
    conts = continuations(labels, fmt)
    gold = torch.tensor([task.label_index(q) for q in task.queries])
    for name, selector in selectors.items():
        counted = CountingScorer(lm)
        fitted = selector.fit(task.pool, lm=counted, labels=labels, encoder=encoder, seed=fit_seed, prompt_format=fmt)
        ks = (0,) if name == "zero" else shots
        demos = [fitted.select(q.text, k) for k in ks for q in task.queries]
        selection[name] = selection.get(name, 0) + counted.prompts
        prompts = [build_prompt(labels, d, q, fmt) for d, q in zip(demos, task.queries * len(ks))]
        n_prompts += len(prompts)
        # With calibration, its content-free prompts go in the same call: they share each prompt's
        # demonstrations, which the LM then runs once (FrozenLM.share_prefixes), and the prior reads the memo.
        calibrating = cfg.calibration in ("on", "both")
        step = len(prompts) if on_prompts is None else PROGRESS_CHUNK
        parts = []
        for start in range(0, len(prompts), max(step, 1)):
            chunk, chunk_demos = prompts[start : start + step], demos[start : start + step]
            extra = content_free_prompts(labels, chunk_demos, fmt) if calibrating else []
            parts.append(lm.label_logprobs(chunk + extra, conts)[: len(chunk)])
            if on_prompts is not None:
                on_prompts(name, start + len(chunk), len(prompts))
        scores = torch.cat(parts) if parts else torch.zeros(0, len(conts))
        variants = []
        if cfg.calibration in ("off", "both"):
            variants.append((name, scores))
        if cfg.calibration in ("on", "both"):
            variants.append((f"{name}+cc", calibrate(scores, content_free_prior(lm, labels, demos, fmt))))
        for method, sc in variants:
            pred = sc.argmax(-1).view(len(ks), -1)
            for k, row in zip(ks, pred):
                out[f"{method}@{k}"] = float((row == gold).float().mean())
                if predictions is not None:
                    predictions[f"{method}@{k}"] = [int(i) for i in row]
    if cfg.protonet:
        from prompting.protonet import balanced_support, protonet_accuracy

        for k in (*shots, len(task.pool)):
            support = balanced_support(task, k, fit_seed)
            out[f"protonet@{k}"] = protonet_accuracy(proto, encoder, task, support)
            out[f"prototypes@{k}"] = protonet_accuracy(None, encoder, task, support)
    return out, n_prompts


def compare(cfg: CompareConfig, *, family: TaskFamily, lm: LabelScorer, encoder: TextEncoder,
            progress: bool = False, on_task: Callable[[CompareResult], None] | None = None,
            resume: Mapping[str, Any] | None = None,
            feedback_file: Callable[[int], str | os.PathLike[str]] | None = None) -> CompareResult:
    """Score every selector at every k on ``cfg.tasks`` test tasks per seed; zero-shot is one row at k=0.

    The meta-learned selector (and the ProtoNets column) are meta-trained once per seed on the family's
    meta-training classes, which are disjoint from the test classes. ``on_task`` gets the result so far
    after every task (long runs save partial results with it). ``resume``: such a partial result
    (``CompareResult.to_dict()``) of the same configuration; its tasks are kept and scoring goes on from the next
    one (every task's selectors and queries depend only on its seed and index, so the scores are those of an
    uninterrupted run). ``feedback_file(seed)``: where the meta selector keeps that seed's meta-training feedback,
    so an interrupted meta-training resumes too.
    """
    cfg.validate()
    start = time.perf_counter()
    per_task: dict[str, list[float]] = {}
    selection: dict[str, int] = {}
    n_prompts, before = 0, 0.0
    if resume is not None:
        check_resumable(cfg, resume)
        per_task = {key: list(values) for key, values in resume["per_task"].items()}
        selection, n_prompts, before = dict(resume["selection_prompts"]), resume["lm_prompts"], resume["seconds"]
    done = len(next(iter(per_task.values()), []))

    def result() -> CompareResult:
        return CompareResult(asdict(cfg), _ci_rows(per_task), per_task,
                             round(before + time.perf_counter() - start, 1), n_prompts, dict(selection))

    for s, seed in enumerate(cfg.seeds):
        if done >= (s + 1) * cfg.tasks:
            continue  # every task of this seed is in ``resume``: no meta-training for it
        started = done > s * cfg.tasks  # then ``resume`` already counts its meta-training's prompts
        selectors, proto = prepare_selectors(cfg, seed, family=family, lm=lm, encoder=encoder,
                                             selection={} if started else selection, progress=progress,
                                             feedback_file=None if feedback_file is None else feedback_file(seed))
        tasks = family.tasks(cfg.split, cfg.tasks, seed, **cfg.sizes())
        for t, task in enumerate(tqdm(tasks, desc=f"seed {seed} tasks", disable=not progress, leave=False)):
            if s * cfg.tasks + t < done:
                continue
            scores, n = score_task(cfg, task, seed * 1000 + t, selectors=selectors, proto=proto, lm=lm,
                                   encoder=encoder, selection=selection)
            n_prompts += n
            for key, value in scores.items():
                per_task.setdefault(key, []).append(value)
            if on_task is not None:
                on_task(result())
    return result()


def check_resumable(cfg: CompareConfig, saved: Mapping[str, Any]) -> None:
    """A partial result fits ``cfg`` only if it was made with the same configuration (as JSON, so a result read
    back from a file compares equal) and holds whole tasks; otherwise one line says what differs."""
    have = json.loads(json.dumps(saved.get("config", {})))
    want = json.loads(json.dumps(asdict(cfg)))
    changed = sorted(k for k in want if have.get(k) != want[k])
    if changed:
        raise ConfigError(f"cannot resume: the saved result was made with other {', '.join(changed)} "
                          f"({', '.join(f'{k}={have.get(k)!r}' for k in changed)})")
    lengths = {len(v) for v in saved.get("per_task", {}).values()}
    if len(lengths) > 1 or "selection_prompts" not in saved or "lm_prompts" not in saved:
        raise ConfigError("cannot resume: the saved result is not a whole partial result of prompt compare")


def selector_scores(params: dict[str, Any], *, family: TaskFamily, lm: LabelScorer, encoder: TextEncoder,
                    selector: str = "learned", split: str = "val", tasks: int = 2, seeds: tuple[int, ...] = (0,),
                    on_task: Callable[[list[float]], None] | None = None, **sizes: int) -> list[float]:
    """Per-task accuracy of ``selector`` with ``params`` (``k``, ``calibrate`` and its hyperparameters; k
    defaults to 4, calibrate to False)
    on ``tasks`` tasks per seed of ``split``. The tasks depend only on the seeds and sizes, so two calls
    with different ``params`` are scored on the same tasks and queries. ``on_task`` gets the scores so far
    after every task (a pruner reads them; it may raise to stop early)."""
    params = dict(params)
    k = int(params.pop("k", 4))
    calibrated = bool(params.pop("calibrate", False))
    cfg = CompareConfig(family.name, (selector,), (k,), tasks, seeds, selector_params=params, protonet=False,
                        split=split, calibration="on" if calibrated else "off", **sizes)
    key = f"{selector}+cc@{k}" if calibrated else f"{selector}@{k}"
    hook = None if on_task is None else (lambda partial: on_task(list(partial.per_task[key])))
    return compare(cfg, family=family, lm=lm, encoder=encoder, on_task=hook).per_task[key]


def selector_objective(params: dict[str, Any], *, family: TaskFamily, lm: LabelScorer, encoder: TextEncoder,
                       selector: str = "learned", tasks: int = 2, seeds: tuple[int, ...] = (0,),
                       **sizes: int) -> float:
    """Mean validation-class accuracy of ``selector`` for one point of ``search_spaces.prompt_selector``.

    ``params`` holds ``k`` plus the selector's hyperparameters; scoring uses the family's ``val`` classes
    so test classes stay unseen while tuning. This is what an Optuna objective returns for a trial
    (``metaopt prompt tune`` uses :func:`selector_scores` to also report per task).
    """
    scores = selector_scores(params, family=family, lm=lm, encoder=encoder, selector=selector, split="val",
                             tasks=tasks, seeds=seeds, **sizes)
    return sum(scores) / len(scores)
