"""What the report says about each trial: killed vs failed, running vs pruned, integer axes, the header."""

from __future__ import annotations

import os
import subprocess

import optuna
import plotly.graph_objects as go
import pytest

from metaopt.tracking._report import _learning_curves, _summary_rows, build_report, report_figures
from metaopt.tracking._report_trials import integer_ticks, trial_states

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _dead_worker() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{os.uname().nodename}:{proc.pid}"


@pytest.fixture
def study(tmp_path):
    """Trials as the tuner leaves them: complete, pruned, failed by itself, killed (recovered and retried),
    killed but not yet recovered, and one still running in this very process."""
    from metaopt.tuning._storage import retry_callback

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'o.db'}", study_name="s", direction="minimize")
    study.set_user_attr("benchmark", "sinusoid")
    study.set_user_attr("ways", None)
    study.set_user_attr("shots", 10)
    me = f"{os.uname().nodename}:{os.getpid()}"
    for number, (state, attrs) in enumerate([
        ("complete", {}), ("pruned", {}), ("fail", {"fail_reason": "TrainingDiverged: meta-loss became nan"}),
        ("killed", {"worker": _dead_worker()}), ("dead-running", {"worker": _dead_worker()}),
        ("running", {"worker": me}),
    ]):
        trial = study.ask()
        trial.set_user_attr("algorithm", "maml")
        trial.set_user_attr("worker", me)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        for step in (1, 2, 3):
            trial.report(1.0 / (step + number), step)
        if state == "complete":
            study.tell(trial, 0.1)
        elif state == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif state in ("fail", "killed"):
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    retry_callback()(study, study.trials[3])  # what recovery does with a killed trial: a copy, trial 6
    return study


def test_killed_trials_are_not_failed_ones(study):
    states = trial_states(study)
    assert states[0] == ("complete", "") and states[1] == ("pruned", "")
    assert states[2] == ("fail", "TrainingDiverged: meta-loss became nan")
    killed, reason = states[3]
    assert killed == "killed" and "died" in reason and "retried as trial 6" in reason
    assert states[4][0] == "killed" and "next `metaopt tune`" in states[4][1]
    assert states[5] == ("running", "") and states[6] == ("waiting", "")
    page = build_report(study)
    assert "<td>killed</td>" in page and "retried as trial 6" in page
    assert "2 killed" in dict(_summary_rows(study))["trials"]


def test_running_is_drawn_unlike_pruned(study):
    curves = {int(c.hovertext.split()[1]): c for c in _learning_curves(study).data}
    running, pruned = curves[5], curves[1]
    assert pruned.line.dash == "dash" and running.line.dash == "solid"
    assert running.opacity < 1 and running.marker.symbol == "circle-open"
    assert curves[0].opacity == 1 and curves[0].marker.symbol == "circle"


def test_header_without_ways(study):
    rows = dict(_summary_rows(study))
    assert rows["shots"] == "10" and "ways / shots" not in rows
    assert "None" not in "".join(rows.values())


def test_integer_ticks_on_the_history_axis(study):
    history = dict(report_figures(study))["Optimisation history"]
    assert history.layout.xaxis.dtick == 1 and history.layout.xaxis.tickformat == "d"
    for largest, step in ((0, 1), (7, 1), (10, 1), (11, 2), (35, 5), (99, 10), (200, 20), (450, 50)):
        fig = go.Figure()
        integer_ticks(fig, largest)
        assert fig.layout.xaxis.dtick == step, largest
