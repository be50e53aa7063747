"""What ``metaopt report`` says about each trial: its state and why (a killed trial is not a failed one),
how its learning curve is drawn, and whole-number axes for trial numbers and iterations."""

from __future__ import annotations

from typing import Any

__all__ = ["STATE_LINE", "trial_states", "integer_ticks"]

# Learning-curve line per trial state: a running trial is drawn solid but faint with hollow markers, so it
# cannot be mistaken for a pruned (dashed) or failed/killed (dotted) one.
STATE_LINE = {"complete": {"dash": "solid"}, "pruned": {"dash": "dash"}, "fail": {"dash": "dot"},
              "killed": {"dash": "dot"}, "running": {"dash": "solid", "width": 1}}


def integer_ticks(fig: Any, largest: float) -> None:
    """Whole-number ticks on the x axis (trial numbers, iterations), about ten at most, where plotly
    would put ticks at halves on a short axis."""
    step = 1
    while largest / step > 10:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, 50, ...
    fig.update_xaxes(tickmode="linear", tick0=0, dtick=step, tickformat="d")


def trial_states(study: Any) -> dict[int, tuple[str, str]]:
    """Per trial number, the state a reader needs and why: Optuna's state, except that a trial metaopt's
    tuner ran whose worker died is "killed" (Optuna records it FAIL with no reason, or RUNNING until the
    next ``metaopt tune`` on the study recovers it) and says so, with the trial that retried it."""
    from metaopt.tuning._recovery import _process_gone

    retried_as = {}
    for t in study.get_trials(deepcopy=False):
        history = t.system_attrs.get("retry_history") or []
        if history:
            retried_as[history[-1]] = t.number
    states = {}
    for t in study.get_trials(deepcopy=False):
        state, reason = t.state.name.lower(), str(t.user_attrs.get("fail_reason", ""))
        worker = t.user_attrs.get("worker")  # set by metaopt's tuner: other studies keep Optuna's states
        if worker and state == "fail" and not reason:
            state, reason = "killed", f"its worker {worker} died"
        elif worker and state == "running" and _process_gone(str(worker)):
            state, reason = "killed", f"its worker {worker} died; the next `metaopt tune` on the study retries it"
        if state == "killed" and t.number in retried_as:
            reason += f"; retried as trial {retried_as[t.number]}"
        states[t.number] = (state, reason)
    return states
