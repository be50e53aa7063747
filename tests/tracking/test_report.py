"""`metaopt report`: figures from the tuner's attrs, one offline HTML page, rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import optuna
import pytest
from tracking_studies import make_study

from metaopt.cli import main
from metaopt.testing import run_cli
from metaopt.tracking._report import build_report, open_study, report_figures

optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.fixture(scope="module")
def study_storage(tmp_path_factory) -> str:
    storage = f"sqlite:///{tmp_path_factory.mktemp('study') / 'optuna.db'}"
    make_study(storage)
    return storage


@pytest.fixture(scope="module")
def report_page(study_storage, tmp_path_factory):
    """The page `metaopt report` writes for the demo study (built once: importances take seconds)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--storage", study_storage, "--out", str(out), "--no-mlflow"]) == 0
    return out


_run = run_cli


def test_figures_follow_the_tuner_attrs(study_storage):
    study = open_study(study_storage, None)
    figures = dict(report_figures(study))
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    per_algo = {a: sum(t.user_attrs["algorithm"] == a for t in complete) for a in ("maml", "protonet")}
    assert list(figures) == ["Optimisation history", "Parameter importances", "Parallel coordinates",
                             "Best accuracy per algorithm", "Learning curves"] + [
        f"{kind} within {a}" for a in per_algo for kind in ("Parameter importances", "Parallel coordinates")]
    drawn = {title for title, f in figures.items() if not isinstance(f, str)}
    # Importances need two completed trials of the algorithm; everything else draws from one.
    assert set(figures) - drawn == {f"Parameter importances within {a}" for a, n in per_algo.items() if n < 2}
    axes = figures["Parallel coordinates within protonet"].layout.xaxis.ticktext
    assert list(axes) == ["accuracy", "outer_lr"]  # the constant algorithm axis is left out
    expected = {a: max(t.user_attrs["val_mean"] for t in complete if t.user_attrs["algorithm"] == a)
                for a in {t.user_attrs["algorithm"] for t in complete}}
    bars = figures["Best accuracy per algorithm"].data
    assert dict(zip(bars[0].x, bars[0].y)) == pytest.approx(expected)
    assert bars[1].y[0] == pytest.approx(study.user_attrs["best_test_mean"])  # the best trial on meta-test
    curves = figures["Learning curves"].data
    assert len(curves) == sum(bool(t.intermediate_values) for t in study.trials)
    pruned = [c for c, t in zip(curves, [t for t in study.trials if t.intermediate_values]) if t.state.name == "PRUNED"]
    assert pruned and all(c.line.dash == "dash" for c in pruned)


def test_page_is_self_contained(report_page):
    page = report_page.read_text()
    assert not re.search(r"<script[^>]+src=", page) and "<link" not in page
    assert page.count("Plotly.newPlot") >= 5
    assert "TrainingDiverged: meta-loss became nan" in page  # the failed trial's reason in the table


def test_empty_and_multi_objective_studies(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    empty = optuna.create_study(storage=storage, study_name="empty")
    assert all(isinstance(f, str) for _, f in report_figures(empty))
    assert "needs at least 1 completed trial" in build_report(empty)
    multi = optuna.create_study(storage=storage, study_name="multi", directions=["maximize", "minimize"])
    multi.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=4)
    figures = dict(report_figures(multi))
    assert "Pareto front" in figures and not isinstance(figures["Optimisation history"], str)


def test_journal_storage(tmp_path):
    path = tmp_path / "study.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    optuna.create_study(storage=storage, study_name="j").optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert len(open_study(f"journal:{path}", None).trials) == 2
    assert open_study(str(path), "j").study_name == "j"


def test_cli_report_logs_to_the_parent_run(study_storage, tracking_uri, tmp_path, capsys):
    import mlflow

    from metaopt.tracking import mlflow_run

    with mlflow_run(experiment="report-parent", tracking_uri=tracking_uri) as parent:
        pass
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    make_study(storage, "with-parent", n_trials=4)
    optuna.load_study(study_name="with-parent", storage=storage).set_user_attr("mlflow_parent_run_id",
                                                                               parent.info.run_id)
    out = tmp_path / "r.html"
    code, stdout, err = _run(["report", "--storage", storage, "--out", str(out), "--tracking-uri", tracking_uri,
                              "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary == {"study": "with-parent", "out": str(out), "trials": 4, "mlflow_run_id": parent.info.run_id}
    assert out.is_file()
    assert "r.html" in [a.path for a in mlflow.MlflowClient(tracking_uri).list_artifacts(parent.info.run_id)]
    assert mlflow.MlflowClient(tracking_uri).get_run(parent.info.run_id).info.status == "FINISHED"


@pytest.mark.parametrize("args,needle", [
    (["--storage", "sqlite:////nonexistent/optuna.db"], "/nonexistent/optuna.db"),
    (["--study", "nope"], "'nope'"),
    (["--storage", "journal:/nonexistent/s.log"], "/nonexistent/s.log"),
])
def test_bad_input_exits_2_in_one_line(study_storage, args, needle, capsys):
    full = ["report", "--storage", study_storage, *args] if args[0] != "--storage" else ["report", *args]
    code, _, err = _run(full, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed")
def test_plots_render_in_headless_chromium(report_page, tmp_path):
    out = report_page
    # --virtual-time-budget lets the page's scripts run to completion before the DOM is dumped.
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=30000", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Plotly replaces each figure's empty div with a plot container holding its SVG layers.
    figures = out.read_text().count("Plotly.newPlot")
    assert figures >= 5 and dom.count('class="plot-container plotly"') == figures, dom[:500]
    assert dom.count('class="main-svg"') >= figures
    assert len(re.findall(r'<g class="trace', dom)) >= figures  # traces were drawn, not just empty axes
