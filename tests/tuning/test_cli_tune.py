"""``metaopt tune`` end to end: bad input, two worker processes on one study, and a worker killed
with SIGKILL mid-trial, then the study resumed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from metaopt.cli import main
from metaopt.testing import TrialGate

optuna.logging.set_verbosity(optuna.logging.WARNING)

@pytest.mark.parametrize("argv, needle", [
    (["--algorithms", "maml,nope"], "nope"),
    (["--trials", "0"], "--trials"),
    (["--storage", "sqlite:////no/such/dir/optuna.db"], "storage"),
    (["--storage", "postgresql://me@127.0.0.1:1/optuna"], "storage"),
    (["--objectives", "accuracy,time"], "mse"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    base = ["tune", "--benchmark", "sinusoid", "--trials", "1", "--iterations", "2", "--no-progress"]
    with pytest.raises(SystemExit) as exc:
        main(base + argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and needle in err and "\n" not in err and "Traceback" not in err


def test_help_answers_without_importing_heavy_packages():
    code = ("import sys, contextlib, io\nfrom metaopt.cli import build_parser\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
            "    build_parser().parse_args(['tune', '--help'])\n"
            "print('journal:' in out.getvalue(), [m for m in ('optuna', 'torch', 'mlflow') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True []"


def _cli(env, trials, iterations, *extra):
    cmd = [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
           "tiny_space:space", "--trials", str(trials), "--iterations", str(iterations), "--study", "cli",
           "--pruner", "none", "--sampler", "random", "--no-progress", "--json", *extra]
    return cmd, env


def _study(tmp_path):
    return optuna.load_study(study_name="cli", storage=f"sqlite:///{tmp_path}/optuna.db")


def _mlflow_runs(tmp_path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    return client.search_runs([client.get_experiment_by_name("cli").experiment_id])


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path, tiny_space):
    gate = TrialGate(tmp_path / "gate")
    cmd, env = _cli(tiny_space(gate.env(iteration=1)), 4, 4, "--workers", "2")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # one trial held in each worker: neither can run all four while the other is still importing torch
        gate.wait(2, proc=proc)
        gate.release()
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["workers"] == 2 and summary["states"]["complete"] == 4
    workers = {t.user_attrs["worker"] for t in _study(tmp_path).trials}
    assert len(workers) == 2  # both processes ran trials
    assert all(r.info.status == "FINISHED" for r in _mlflow_runs(tmp_path))


@pytest.mark.slow
def test_worker_killed_mid_trial_then_study_resumed(tmp_path, tiny_space):
    gate = TrialGate(tmp_path / "gate")
    # trial 0 runs through; trial 1 waits at iteration 10 of 40: a finished trial and one mid-way
    cmd, env = _cli(tiny_space(gate.env(iteration=10, min_trial=1)), 3, 40)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        (held,) = gate.wait(1, proc=proc)
        victim = _study(tmp_path).trials[held["trial"]]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    finished = {t.number: t.value for t in _study(tmp_path).trials if t.state == TrialState.COMPLETE}
    assert list(finished) == [0]
    assert _study(tmp_path).trials[victim.number].state == TrialState.RUNNING  # nobody could tell Optuna

    again = subprocess.run(cmd, cwd=tmp_path, env=tiny_space(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    trials = _study(tmp_path).trials
    assert all(trials[n].state == TrialState.COMPLETE and trials[n].value == v for n, v in finished.items())
    killed = trials[victim.number]
    assert killed.state == TrialState.FAIL and "fail_reason" not in killed.user_attrs
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed.params
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    runs = {r.info.run_id: r for r in _mlflow_runs(tmp_path)}
    assert runs[killed.user_attrs["mlflow_run_id"]].info.status == "KILLED"
    assert runs[killed.user_attrs["mlflow_run_id"]].data.tags["trial_state"] == "KILLED"
    assert all(r.info.status != "RUNNING" for r in runs.values())
