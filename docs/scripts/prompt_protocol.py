"""The prompt-selection protocol of issue #13: every selector, with and without contextual calibration, on many
held-out tasks of several families, paired against kNN by task. Resumable per task.

For each family: ``--tasks`` held-out test tasks (``--ways`` classes, ``--pool`` candidates per class, up to
``--queries`` queries per class: fewer only where the family's test classes lack the texts), k = ``--k`` for
every task and ``--extra-ks`` on the first ``--subset`` tasks (k on all the tasks first, then the extra ks, so a
stopped run has the targets' numbers on as many tasks as it could). Per-task accuracies go to ``OUT/FAMILY.json``
after every task; running the same command again skips the tasks already there (a different configuration
is refused). ``--shard I/N`` takes every N-th task, so shards of one family run side by side (each merges its
tasks into the JSON under ``OUT/FAMILY.lock``). The meta selector's scorer is meta-trained once per family and
kept in ``OUT/FAMILY.meta.pt``; its LM feedback is kept task by task in ``OUT/FAMILY.meta.feedback.json`` (not
committed), so meta-training resumes too.
When a selector's method changes (``REVISIONS``), the finished tasks are re-scored for that selector alone on
the next run, task by task and resumably, and its other columns stay.
The tables (mean ± t-based 95% interval over tasks; differences against kNN at the same k, paired by task)
are printed and written to ``OUT/tables.md``, and each family's figure to ``OUT/FAMILY.png``
(``protocol_plots.py``).

    python docs/scripts/prompt_protocol.py --out docs/prompt_protocol            # the full protocol (hours on CPU)
    python docs/scripts/prompt_protocol.py --device cuda --dtype bfloat16 ...    # on a GPU
    python docs/scripts/prompt_protocol.py --tasks 2 --queries 2 --families fortunes --out /tmp/pilot   # a pilot
    python docs/scripts/prompt_protocol.py --jobs 2 --out docs/prompt_protocol   # families side by side, a core each
    python docs/scripts/prompt_protocol.py --jobs 2 --families fortunes --k-only ...  # one family's tasks on 2 cores
    python docs/scripts/prompt_protocol.py --report-only --out docs/prompt_protocol   # re-print the tables
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

FAMILIES = "wordnet,chatterbot,fortunes"
SELECTORS = "zero,random,knn,balanced_knn,bm25,bootstrap,learned,meta"
# A selector's revision rises when its method changes; finished tasks scored by an older revision are
# re-scored for that selector alone (its other columns stay), and a stale meta scorer is meta-trained again.
# 2: learned and meta take LM feedback in a 3-example context and weigh class prototypes (learned: rank 0).
# 3 (meta): rank 0 and learning rate 0.05, as learned.
# 2 (bootstrap): 18 candidate sets, not 16: 144 LM prompts per k, learned's budget (it was 128).
REVISIONS = {"learned": 2, "meta": 3, "bootstrap": 2}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from prompting._sources import named_models_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=FAMILIES)
    ap.add_argument("--selectors", default=SELECTORS)
    ap.add_argument("--calibration", choices=["off", "on", "both"], default="both")
    ap.add_argument("--tasks", type=int, default=40, help="held-out tasks per family (default 40)")
    ap.add_argument("--subset", type=int, default=10, help="tasks also scored at --extra-ks (default 10)")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--extra-ks", default="1,2,8")
    ap.add_argument("--ways", type=int, default=4)
    ap.add_argument("--pool", type=int, default=8, help="candidates per class (default 8)")
    ap.add_argument("--queries", type=int, default=10, help="queries per class, at most (default 10: 40 a task)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="selector hyperparameter")
    ap.add_argument("--model", default=None, help=f"LM: {named_models_text()}, or a hub name, folder or .gguf file")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads (default: up to 4). On 2 cores, a family per process at --threads 1 "
                         "scored 1.11-1.20x the prompts/s of one 2-thread process "
                         "(benchmarks/lm_threads_vs_processes.py)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="processes at once, a family each on --threads (default: the cores / jobs); with fewer "
                         "families than jobs, each family's tasks are shared among jobs // families processes")
    ap.add_argument("--shard", default="0/1", metavar="I/N",
                    help="this process takes the tasks t with t %% N == I (default 0/1: all); shards of one family "
                         "run side by side, each merging its tasks into OUT/FAMILY.json under a lock")
    ap.add_argument("--k-only", action="store_true",
                    help="score --k alone this run; the subset's --extra-ks wait for a run without it")
    ap.add_argument("--no-protonet", action="store_true")
    ap.add_argument("--out", default="docs/prompt_protocol")
    ap.add_argument("--report-only", action="store_true", help="print the tables from OUT and exit")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads must be at least 1, got {args.threads}")
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")
    index, _, count = args.shard.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        ap.error(f"--shard {args.shard}: use I/N with 0 <= I < N, e.g. 1/2")
    args.shard_index, args.shards = int(index), int(count)
    from metaopt.errors import ConfigError
    from prompting.selectors import make_selector

    bad = [p for p in args.param if "=" not in p]
    if bad:
        ap.error(f"--param {bad[0]}: use KEY=VALUE")
    args.params_text = dict(p.split("=", 1) for p in args.param)  # as the JSON config keeps them
    args.params = {k: _value(v) for k, v in args.params_text.items()}
    try:  # a bad selector or hyperparameter fails before the LM loads
        for name in args.selectors.split(","):
            make_selector(name, **args.params)
    except (ConfigError, TypeError) as exc:
        ap.error(str(exc))
    return args


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_of(args: argparse.Namespace, family: str, queries: int) -> dict[str, Any]:
    return {"family": family, "selectors": args.selectors.split(","), "calibration": args.calibration,
            "k": args.k, "extra_ks": [int(k) for k in args.extra_ks.split(",") if k], "subset": args.subset,
            "ways": args.ways, "pool": args.pool, "queries_per_class": queries, "seed": args.seed,
            "params": args.params_text, "model": args.model or "smollm2",
            "dtype": args.dtype, "protonet": not args.no_protonet}


def queries_that_fit(family: Any, args: argparse.Namespace) -> int:
    """The most queries per class (up to --queries) for which the family's test split has --ways classes."""
    from metaopt.errors import ConfigError

    for q in range(args.queries, 0, -1):
        try:
            family.tasks("test", 1, args.seed, ways=args.ways, pool_per_class=args.pool, queries_per_class=q)
            return q
        except ConfigError:
            continue
    raise SystemExit(f"{family.name}: no {args.ways}-way test task with a pool of {args.pool} per class")


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    from metaopt.checkpoint import write_atomically

    write_atomically(path, json.dumps(data, indent=1).encode(), "protocol scores")  # a kill mid-write loses nothing


META_PROMPTS = "meta (meta-training)"


def meta_selector(path: Path, cfg: Any, *, family: Any, lm: Any, encoder: Any) -> tuple[Any, int]:
    """The meta selector, meta-trained once and kept beside the scores (a resumed run, or another shard, does not
    retrain it), and the LM prompts its meta-training spent."""
    import torch

    from metaopt.checkpoint import file_lock
    from prompting.selectors import make_selector
    from prompting.selectors._scorer import GuardReport, ResidualScorer

    template = make_selector("meta", **cfg.selector_params)
    with file_lock(lock_of(path)):  # shards of a family wait for the first one's meta-training, then load it
        # weights_only: --out is a user's folder, where a planted pickle would run code when loaded
        saved = torch.load(path, weights_only=True) if path.exists() else None
        if saved is not None and saved.get("revision", 1) == REVISIONS["meta"]:
            scorer = ResidualScorer(encoder.dim, template.rank)
            scorer.load_state_dict(saved["state"])
            report = GuardReport(**saved["report"])
            return (type(template)(**template.params(), scorer=scorer.eval(), report=report),
                    saved["selection"][META_PROMPTS])
        # the feedback is kept task by task, so a run stopped during meta-training resumes at its next task
        trained = template.meta_train(family, lm=lm, encoder=encoder, seed=cfg.seeds[0], progress=True,
                                      feedback_file=path.with_suffix(".feedback.json"), **cfg.sizes())
        torch.save({"state": trained._scorer.state_dict(), "report": asdict(trained.report),
                    "selection": {META_PROMPTS: trained.feedback_prompts}, "revision": REVISIONS["meta"]}, path)
        return trained, trained.feedback_prompts


def lock_of(path: Path) -> Path:
    """The lock file of a family's outputs (``OUT/FAMILY.lock``), shared by its shards."""
    return path.with_name(path.name.split(".")[0] + ".lock")


def record_task(path: Path, config: dict[str, Any], t: int, scores: dict[str, float], revision: dict[str, int],
                seconds: float, spent: dict[str, int], *, reset: dict[str, int] | None = None,
                extra: dict[str, Any] | None = None) -> None:
    """Task ``t``'s scores into ``path``, read and rewritten under the family's lock so that shards running at
    once keep each other's tasks: its selectors' LM prompts (``spent``) and ``seconds`` add to the totals,
    after ``reset`` sets some totals (0 where a new revision's re-scoring begins; meta-training's one-off count)
    and ``extra`` some top-level entries."""
    from metaopt.checkpoint import file_lock

    with file_lock(lock_of(path)):
        state = json.loads(path.read_text()) if path.exists() else {"config": config, "tasks": {}, "seconds": 0.0}
        state["tasks"][str(t)] = scores
        state.setdefault("revisions", {})[str(t)] = revision
        state["seconds"] = round(state["seconds"] + seconds, 1)
        totals = state.setdefault("selection_prompts", {})
        totals.update(reset or {})
        for name, n in spent.items():
            totals[name] = totals.get(name, 0) + n
        state.update(extra or {})
        write_atomic(path, state)


def run_family(name: str, args: argparse.Namespace, lm: Any, encoder: Any, out: Path) -> None:
    from tqdm.auto import tqdm

    from prompting.comparison import CompareConfig, prepare_selectors, score_task
    from prompting.tasks import get_family

    family = get_family(name)
    queries = queries_that_fit(family, args)
    config = config_of(args, name, queries)
    path = out / f"{name}.json"
    state = json.loads(path.read_text()) if path.exists() else {"config": config, "tasks": {}, "seconds": 0.0}
    if state["config"] != config:
        raise SystemExit(f"{path} holds another configuration; use another --out (have {state['config']})")
    selectors = [s for s in config["selectors"]]
    cfg = CompareConfig(name, tuple(s for s in selectors if s != "meta"), (args.k,), args.tasks, (args.seed,),
                        args.ways, args.pool, queries, args.params,
                        not args.no_protonet, split="test", calibration=args.calibration)
    cfg.validate()
    chosen, proto = prepare_selectors(cfg, args.seed, family=family, lm=lm, encoder=encoder, selection={})
    fixed: dict[str, Any] = {}  # what every task's write carries along: the meta guard's outcome
    one_off: dict[str, int] = {}  # and the LM prompts of meta-training, spent once for all tasks
    if "meta" in selectors:
        chosen["meta"], meta_prompts = meta_selector(out / f"{name}.meta.pt", cfg, family=family, lm=lm,
                                                     encoder=encoder)
        report, one_off[META_PROMPTS] = chosen["meta"].report, meta_prompts
        fixed["meta_guard"] = {"steps": report.steps, "temperature": report.temperature, "gain": report.gain}
    tasks = family.tasks("test", args.tasks, args.seed, **cfg.sizes())
    current = {s: REVISIONS.get(s, 1) for s in selectors}
    revisions = state.setdefault("revisions", {})
    extra = () if args.k_only else tuple(k for k in sorted(set(config["extra_ks"])) if k != args.k)
    # k on every task first, then the extra ks on the subset: the targets' numbers (at k) arrive first, and the
    # accuracy-against-k figure fills in after (a subset task at k = 1, 2, 4, 8 costs several k-only tasks).
    plan = [(t, (args.k,)) for t in range(len(tasks))]
    plan += [(t, extra) for t in range(min(args.subset, len(tasks))) if extra]
    plan = [(t, shots) for t, shots in plan if t % args.shards == args.shard_index]
    for t, shots in tqdm(plan, desc=name if args.shards == 1 else f"{name} {args.shard}"):
        task, have = tasks[t], state["tasks"].get(str(t), {})
        done = revisions.get(str(t), {})
        stale = [s for s in selectors if have and done.get(s, 1) != current[s]]
        if stale and args.shards > 1:  # the totals of LM prompts restart at task 0, which one shard writes
            raise SystemExit(f"{path}: task {t} needs {', '.join(stale)} re-scored (a new revision); run that "
                             "without --shard")
        missing = tuple(k for k in shots if not any(key.endswith(f"@{k}") for key in have))
        if not stale and not missing:
            continue
        start = time.perf_counter()
        scores = dict(have)
        selection: dict[str, int] = {}
        # stale tasks are a prefix 0..n: the selectors' prompt counts restart with the revision at task 0
        restart = {s: 0 for s in stale} if t == 0 else {}
        if stale:  # re-score the changed selectors alone at the ks the task has; their prompts are new
            scored = tuple(k for k in (args.k, *extra) if any(key.endswith(f"@{k}") for key in have))
            fresh, _ = score_task(replace(cfg, protonet=False), task, args.seed * 1000 + t,
                                  selectors={s: chosen[s] for s in stale}, proto=None, lm=lm, encoder=encoder,
                                  shots=scored, selection=selection)
            scores.update(fresh)
        if missing:
            fresh, _ = score_task(cfg, task, args.seed * 1000 + t, selectors=chosen, proto=proto, lm=lm,
                                  encoder=encoder, shots=missing, selection=selection)
            scores.update(fresh)
        record_task(path, config, t, scores, current, time.perf_counter() - start, selection,
                    reset={**restart, **one_off}, extra=fixed)
        state["tasks"][str(t)], revisions[str(t)] = scores, current  # its extra-ks pass starts from these


def tables(out: Path, families: list[str], planned: int = 40) -> str:
    """Markdown: per family, each method@k's mean ± t95 over tasks and its paired difference against kNN."""
    from prompting.stats import format_interval, mean_t95

    lines = []
    for name in families:
        path = out / f"{name}.json"
        if not path.exists():
            continue
        state = json.loads(path.read_text())
        tasks = state["tasks"]
        keys = list(dict.fromkeys(k for scores in tasks.values() for k in scores))
        cfg = state["config"]
        lines += [f"### {name}: {len(tasks)} tasks, {cfg['ways']}-way, pool {cfg['pool']}/class, "
                  f"{cfg['queries_per_class'] * cfg['ways']} queries/task, {cfg['model']} ({cfg['dtype']}), "
                  f"{state['seconds']:.0f} s", "",
                  "| method | k | tasks | accuracy (%) | vs kNN, paired (points) |", "|---|---|---|---|---|"]
        for key in sorted(keys, key=lambda s: (int(s.rpartition("@")[2]), s)):
            method, _, k = key.rpartition("@")
            have = [t for t in tasks if key in tasks[t]]
            mean, half = mean_t95([tasks[t][key] for t in have])
            ref = f"knn@{k}" if method != "zero" else f"knn@{cfg['k']}"
            paired = None if key == ref else _paired(tasks, key, ref, least=1)
            diff = "-" if paired is None else format_interval(*paired[:2])
            lines.append(f"| {method} | {k} | {len(have)} | {format_interval(mean, half)} | {diff} |")
        budget = state.get("selection_prompts", {})
        if budget:
            lines += ["", "LM prompts spent by the selectors themselves (all tasks): " +
                      ", ".join(f"{k} {v}" for k, v in budget.items())]
        if "meta_guard" in state:
            lines.append(f"meta guard: {state['meta_guard']}")
        lines.append("")
    return "\n".join(lines + targets(out, families, planned))


def _paired(tasks: dict[str, dict[str, float]], key: str, ref: str,
            least: int = 2) -> tuple[float, float, int] | None:
    """``key`` minus ``ref`` over the tasks that have both: mean, t95 half-width (nan at one task), tasks;
    None below ``least`` tasks."""
    from prompting.stats import paired_t95

    both = [t for t in tasks if key in tasks[t] and ref in tasks[t]]
    if len(both) < max(1, least):
        return None
    mean, half = paired_t95([tasks[t][key] for t in both], [tasks[t][ref] for t in both])
    return mean, half, len(both)


def targets(out: Path, families: list[str], planned: int = 40) -> list[str]:
    """Issue #13's targets at the protocol's k, per selector and family: no worse than kNN (the paired interval's
    lower end >= -1 point); a gain (>= +2 points, interval above zero), needed on at least two of three families;
    better than bootstrap at equal LM calls (paired interval above zero). Provisional below ``planned`` tasks."""
    from prompting.stats import format_interval

    lines = ["### Targets (paired by task; learned and meta against kNN and bootstrap)", "",
             "| family | selector | k | tasks | vs kNN (points) | no worse | gain | vs bootstrap (points) | better |",
             "|---|---|---|---|---|---|---|---|---|"]
    verdicts: dict[str, list[tuple[bool, bool, bool]]] = {}
    fewest = planned
    for name in families:
        path = out / f"{name}.json"
        if not path.exists():
            continue
        state = json.loads(path.read_text())
        k, tasks = state["config"]["k"], state["tasks"]
        for selector in ("learned", "meta"):
            key = f"{selector}@{k}"
            knn, boot = _paired(tasks, key, f"knn@{k}"), _paired(tasks, key, f"bootstrap@{k}")
            if knn is None:
                continue
            fewest = min(fewest, knn[2])
            no_worse, gain = knn[0] - knn[1] >= -0.01, knn[0] >= 0.02 and knn[0] - knn[1] > 0
            better = boot is not None and boot[0] - boot[1] > 0
            verdicts.setdefault(selector, []).append((no_worse, gain, better))
            lines.append(f"| {name} | {selector} | {k} | {knn[2]} | {format_interval(*knn[:2])} | "
                         f"{'yes' if no_worse else 'no'} | {'yes' if gain else 'no'} | "
                         f"{'-' if boot is None else format_interval(*boot[:2])} | {'yes' if better else 'no'} |")
    if not verdicts:
        return []
    lines.append("")
    for selector, rows in verdicts.items():
        met = (len(rows) == 3 and all(r[0] for r in rows) and sum(r[1] for r in rows) >= 2
               and all(r[2] for r in rows))
        lines.append(f"{selector}: no worse than kNN on {sum(r[0] for r in rows)} of {len(rows)} families, a gain on "
                     f"{sum(r[1] for r in rows)}, better than bootstrap on {sum(r[2] for r in rows)}: target "
                     f"{'met' if met else 'not met'}"
                     + (f" (provisional: {fewest} of {planned} tasks)" if fewest < planned else ""))
    return lines + [""]


def family_commands(argv: list[str], families: list[str], jobs: int, threads: int | None) -> list[list[str]]:
    """One command line per family: the same options, ``--families`` that family alone, ``--threads`` set; with
    fewer families than jobs, each family is split into ``jobs // families`` shards (``--shard I/N``)."""
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    shards = max(1, jobs // max(1, len(families)))
    own = ("--families", "--jobs", "--threads", "--shard")
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in own:
            skip = True
        elif not arg.startswith(tuple(f"{name}=" for name in own)):
            rest.append(arg)
    split = [[]] if shards == 1 else [["--shard", f"{i}/{shards}"] for i in range(shards)]
    return [[sys.executable, __file__, *rest, "--families", f, "--threads", str(threads), *part]
            for f in families for part in split]


def run_jobs(commands: list[list[str]], jobs: int) -> int:
    """Runs the commands, ``jobs`` at a time; each resumes on its own, so a failed one can just be run again."""
    import subprocess

    running: list[subprocess.Popen] = []
    failed = 0
    for command in commands:
        while len(running) >= jobs:
            time.sleep(1)
            failed += sum(p.returncode != 0 for p in running if p.poll() is not None)
            running = [p for p in running if p.returncode is None]
        running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
    failed += sum(p.wait() != 0 for p in running)
    return failed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out = Path(args.out)
    families = [f for f in args.families.split(",") if f]
    failed = 0
    if args.jobs > 1 and not args.report_only:
        out.mkdir(parents=True, exist_ok=True)
        commands = family_commands(argv, families, args.jobs, args.threads)
        failed = run_jobs(commands, args.jobs)
        if failed:
            print(f"{failed} of {len(commands)} processes failed (see their output above); run the same command "
                  "again to resume", file=sys.stderr)
        args.report_only = True  # the tables of what the processes wrote
    if not args.report_only:
        import torch

        from prompting.encoder import SentenceEncoder
        from prompting.lm import FrozenLM

        if args.device == "cpu":
            torch.set_num_threads(args.threads or max(1, min(4, os.cpu_count() or 1)))
        out.mkdir(parents=True, exist_ok=True)
        lm = FrozenLM.load(args.model, dtype=args.dtype, device=args.device)
        encoder = SentenceEncoder(device=args.device)
        for name in families:
            run_family(name, args, lm, encoder, out)
    # Families run in other processes (one per core) stay in the tables this process writes.
    known = FAMILIES.split(",")
    shown = [f for f in known if f in families or (out / f"{f}.json").exists()] + \
        [f for f in families if f not in known]
    text = tables(out, shown, args.tasks)
    (out / "tables.md").write_text(text)
    print(text)
    sys.path.insert(0, str(Path(__file__).parent))
    from protocol_plots import plot_all

    for png in plot_all(out, shown):
        print(f"figure: {png}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
