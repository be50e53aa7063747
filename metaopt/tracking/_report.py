"""``metaopt report``: one self-contained HTML page about an Optuna study (plotly inlined, no network).

It reads what the tuner records: per trial the user attrs ``algorithm``, ``metric``, ``val_mean``,
``val_ci95``, ``iterations_run``, ``fail_reason``, ``pruned_at`` and the intermediate values
(validation metric by iteration); per study ``benchmark``, ``ways``, ``shots``, ``metric``,
``best_test_mean``, ``best_test_ci95``, ``best_trial``. Anything missing is simply left out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metaopt.errors import ConfigError
from metaopt.stats import format_ci
from metaopt.tracking._quiet import optuna_quiet
from metaopt.tracking._report_trials import STATE_LINE, integer_ticks, trial_states

__all__ = ["open_study", "build_report", "write_report", "report_figures"]

def open_study(storage: str, study_name: str | None) -> Any:
    """Load an existing study for reading; one-line ConfigErrors for a missing file, store or study.

    ``storage`` is an SQLAlchemy URL, or ``journal:PATH`` / a path ending in ``.log`` for Optuna's
    journal file. With no ``study_name``, the storage must hold exactly one study."""
    import optuna

    from metaopt.tuning._storage import redact_url

    if storage.startswith("journal:") or storage.endswith(".log"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(storage.removeprefix("journal:")).expanduser()
        if not path.is_file():
            raise ConfigError(f"no journal storage file at {path}")
        store: Any = JournalStorage(JournalFileBackend(str(path)))
    else:
        if storage.startswith("sqlite:///") and not Path(storage.removeprefix("sqlite:///")).is_file():
            raise ConfigError(f"no study storage at {storage} (the SQLite file does not exist)")
        store = storage
    try:
        names = optuna.study.get_all_study_names(store)
    except Exception as exc:  # SQLAlchemy raises many types for bad URLs and unreachable servers
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot read storage {redact_url(storage)!r}: {first}") from None
    if study_name is None:
        if len(names) != 1:
            raise ConfigError(f"storage {redact_url(storage)} holds {len(names)} studies; choose one with --study "
                              f"({', '.join(names) or 'none'})")
        study_name = names[0]
    if study_name not in names:
        raise ConfigError(f"no study {study_name!r} in {redact_url(storage)}; "
                          f"it holds {', '.join(names) or 'no studies'}")
    return optuna.load_study(study_name=study_name, storage=store)


def _metric(study: Any) -> str:
    return str(study.user_attrs.get("metric") or "objective")


def _target(study: Any) -> tuple[Callable[[Any], float] | None, str]:
    """Multi-objective studies are plotted on their first objective (the validation metric)."""
    if len(study.directions) > 1:
        return (lambda t: t.values[0]), _metric(study)
    return None, _metric(study)


def _best_per_algorithm(study: Any) -> dict[str, Any]:
    """The best finished (complete) trial of each algorithm by its validation mean."""
    import optuna

    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    best: dict[str, Any] = {}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        value = t.user_attrs.get("val_mean", t.values[0] if t.values else None)
        if value is None or not math.isfinite(value):
            continue
        algo = str(t.user_attrs.get("algorithm") or t.params.get("algorithm", "?"))
        held = best.get(algo)
        held_value = None if held is None else held.user_attrs.get("val_mean", held.values[0])
        if held is None or (value > held_value if maximize else value < held_value):
            best[algo] = t
    return dict(sorted(best.items()))


def _best_bars(study: Any) -> Any:
    import plotly.graph_objects as go

    best = _best_per_algorithm(study)
    names = list(best)
    means = [t.user_attrs.get("val_mean", t.values[0]) for t in best.values()]
    cis = [t.user_attrs.get("val_ci95", 0.0) for t in best.values()]
    cis = [c if c is not None and math.isfinite(c) else 0.0 for c in cis]
    text = [f"trial {t.number}" for t in best.values()]
    fig = go.Figure(go.Bar(x=names, y=means, error_y={"type": "data", "array": cis, "visible": True},
                           text=text, name="best validation"))
    test_trial = study.user_attrs.get("best_trial")
    if "best_test_mean" in study.user_attrs and test_trial is not None:
        trial = study.trials[int(test_trial)]
        algo = str(trial.user_attrs.get("algorithm") or trial.params.get("algorithm", "?"))
        fig.add_trace(go.Bar(x=[algo], y=[study.user_attrs["best_test_mean"]], name=f"meta-test (trial {trial.number})",
                             error_y={"type": "data", "array": [study.user_attrs.get("best_test_ci95") or 0.0]}))
    fig.update_layout(title="Best validation per algorithm (mean ± 95% CI)", barmode="group",
                      yaxis_title=_metric(study), xaxis_title="algorithm")
    return fig


def _learning_curves(study: Any) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    algorithms = sorted({str(t.user_attrs.get("algorithm") or t.params.get("algorithm", "?")) for t in study.trials})
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    shown: set[str] = set()
    states = trial_states(study)
    last_step = 0
    for t in study.get_trials(deepcopy=False):
        if not t.intermediate_values:
            continue
        algo = str(t.user_attrs.get("algorithm") or t.params.get("algorithm", "?"))
        steps = sorted(t.intermediate_values)
        last_step = max(last_step, steps[-1])
        state = states[t.number][0]
        running = state == "running"
        fig.add_trace(go.Scatter(
            x=steps, y=[t.intermediate_values[s] for s in steps], mode="lines+markers", legendgroup=algo,
            name=algo, showlegend=algo not in shown, hovertext=f"trial {t.number} ({state})",
            line={"color": palette[algorithms.index(algo) % len(palette)], **STATE_LINE.get(state, {})},
            opacity=0.5 if running else 1.0, marker={"symbol": "circle-open" if running else "circle"},
        ))
        shown.add(algo)
    fig.update_layout(title="Learning curves: validation by iteration (dashed: pruned, dotted: failed or killed, "
                      "faint with open markers: running)",
                      xaxis_title="meta-iteration", yaxis_title=f"validation {_metric(study)}")
    integer_ticks(fig, last_step)
    return fig


def report_figures(study: Any) -> list[tuple[str, Any | str]]:
    """(title, plotly figure) pairs; a figure that cannot be drawn yet is a one-line reason instead."""
    import optuna
    from optuna import visualization as vis

    target, name = _target(study)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    figures: list[tuple[str, Any | str]] = []

    def attempt(title: str, draw: Callable[[], Any], needs: int = 1, have: int | None = None) -> None:
        have = len(complete) if have is None else have
        if have < needs:
            figures.append((title, f"needs at least {needs} completed trial(s); there are {have}"))
            return
        try:
            figures.append((title, draw()))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            figures.append((title, f"not available: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"))

    def history() -> Any:
        fig = vis.plot_optimization_history(study, target=target, target_name=name)
        integer_ticks(fig, max((t.number for t in study.trials), default=0))
        return fig

    attempt("Optimisation history", history)
    if len(study.directions) > 1:
        attempt("Pareto front", lambda: vis.plot_pareto_front(study))
    # fANOVA fits random trees: seeded, so the same study always gives the same importances.
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    attempt("Parameter importances",
            lambda: vis.plot_param_importances(study, evaluator, target=target, target_name=name), needs=2)
    attempt("Parallel coordinates", lambda: vis.plot_parallel_coordinate(study, target=target, target_name=name))
    attempt("Best accuracy per algorithm" if name == "accuracy" else f"Best {name} per algorithm",
            lambda: _best_bars(study))
    if any(t.intermediate_values for t in study.trials):
        figures.append(("Learning curves", _learning_curves(study)))
    else:
        figures.append(("Learning curves", "no trial has reported intermediate values yet"))
    # In a joint space the algorithm dominates the importances; within each algorithm its own knobs show.
    groups = _complete_by_algorithm(study)
    for algo, sub in groups.items() if len(groups) > 1 else ():
        common = set.intersection(*(set(t.params) for t in sub.trials)) - {"algorithm"}
        every = sorted({p for t in sub.trials for p in t.params} - {"algorithm"})
        attempt(f"Parameter importances within {algo}", lambda sub=sub, common=common: vis.plot_param_importances(
            sub, evaluator, params=sorted(common), target=target, target_name=name), needs=2, have=len(sub.trials))
        attempt(f"Parallel coordinates within {algo}", lambda sub=sub, every=every: vis.plot_parallel_coordinate(
            sub, params=every, target=target, target_name=name), have=len(sub.trials))
    return figures


def _complete_by_algorithm(study: Any) -> dict[str, Any]:
    """An in-memory study of each algorithm's completed trials (Optuna's plots take a whole study)."""
    import optuna

    groups: dict[str, list[Any]] = {}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        groups.setdefault(str(t.user_attrs.get("algorithm") or t.params.get("algorithm", "?")), []).append(t)
    subs = {}
    for algo, trials in sorted(groups.items()):
        with optuna_quiet():  # throwaway studies: no "A new study created in memory" on the terminal
            sub = optuna.create_study(directions=[d.name.lower() for d in study.directions])
        sub.add_trials(trials)
        subs[algo] = sub
    return subs


def _summary_rows(study: Any) -> list[tuple[str, str]]:
    from collections import Counter

    attrs = study.user_attrs
    counts = Counter(state for state, _ in trial_states(study).values())
    # regression and RL benchmarks have no ways: "None / 10" would read as a bug
    shape = (("ways / shots", f"{attrs['ways']} / {attrs.get('shots')}") if attrs.get("ways") is not None
             else ("shots", str(attrs.get("shots"))))
    rows = [("study", study.study_name), ("benchmark", str(attrs.get("benchmark", "?"))), shape,
            ("directions", ", ".join(d.name.lower() for d in study.directions)),
            ("trials", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"),
            ("meta-iterations spent", str(sum(int(t.user_attrs.get("iterations_run") or 0) for t in study.trials)))]
    if "best_test_mean" in attrs:
        ci = attrs.get("best_test_ci95")
        rows.append((f"best trial on meta-test ({_metric(study)})",
                     f"{format_ci(attrs['best_test_mean'], ci, digits=4)} "
                     f"(trial {attrs.get('best_trial')}, {attrs.get('best_test_tasks', '?')} tasks)"))
    return rows


def _trials_table(study: Any) -> str:
    head = ["#", "state", "algorithm", "value", "val ± 95% CI", "iterations", "pruned at", "failure"]
    body = []
    states = trial_states(study)
    for t in study.trials:
        ua = t.user_attrs
        state, reason = states[t.number]
        value = ", ".join(f"{v:.4g}" for v in t.values) if t.values else ""
        val = format_ci(ua["val_mean"], ua.get("val_ci95"), digits=4) if ua.get("val_mean") is not None else ""
        cells = [t.number, state, ua.get("algorithm") or t.params.get("algorithm", ""), value, val,
                 ua.get("iterations_run", ""), ua.get("pruned_at", ""), reason]
        body.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<table class='trials'><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def build_report(study: Any) -> str:
    """The HTML page as a string, plotly.js inlined so it opens with no network."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    sections = []
    for i, (title, fig) in enumerate(report_figures(study)):
        if isinstance(fig, str):
            body = f"<p class='missing'>{html.escape(fig)}</p>"
        else:
            body = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=f"fig{i}",
                               default_width="100%", default_height="460px")
        sections.append(f"<section><h2>{html.escape(title)}</h2>{body}</section>")
    summary = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _summary_rows(study))
    title = html.escape(f"metaopt study {study.study_name}")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}.missing{color:#777}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body><h1>{title}</h1>"
            f"<table class='summary'>{summary}</table>{''.join(sections)}<section><h2>Trials</h2>"
            f"{_trials_table(study)}</section></body></html>")


def write_report(study: Any, out: str | Path) -> Path:
    """Write the page to ``out`` atomically (a stop or a full disk mid-write keeps the previous page whole, and
    leaves no temporary file). ``out``'s folder must exist: a mistyped folder is not created."""
    from metaopt.checkpoint import write_atomically

    out = Path(out)
    if not out.parent.is_dir():
        raise ConfigError(f"cannot write the report {out}: folder {out.parent} does not exist")
    write_atomically(out, build_report(study).encode("utf-8"), "the report")
    return out
