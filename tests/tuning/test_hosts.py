"""A study on many machines, for real: a PostgreSQL server and an ``mlflow server`` over HTTP, three
``metaopt tune`` processes started as separate hosts would be (their own folder and host name), one
killed with SIGKILL mid-trial. The heartbeat fails its trial, another host runs the retry, no finished
trial is lost, nothing stays RUNNING in Optuna or MLflow, all trials nest under one parent run and the
model is registered, all read back through the servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from metaopt.testing import TrialGate

optuna.logging.set_verbosity(optuna.logging.WARNING)

HOSTS = 3
TRIALS = 6


@pytest.mark.slow
def test_three_hosts_on_postgres_and_an_mlflow_server_survive_a_killed_host(tmp_path, postgres_server,
                                                                            mlflow_server, tiny_space):
    storage = postgres_server["url"]("hosts")
    gate = TrialGate(tmp_path / "gate")
    # trials 0 and 1 run through; every later one waits at iteration 10: a host is killed mid-trial, with
    # finished trials in the study and a trial left for the others
    env = {**tiny_space(gate.env(iteration=10, min_trial=2)), "PGPASSWORD": postgres_server["password"],
           "MLFLOW_TRACKING_URI": mlflow_server}
    cmd = [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
           "tiny_space:space", "--trials", str(TRIALS), "--iterations", "40", "--val-every", "5", "--val-tasks", "3",
           "--test-tasks", "5", "--storage", storage, "--study", "hosts", "--tracking-uri", mlflow_server,
           "--sampler", "random", "--pruner", "none", "--no-progress"]
    procs = {}
    for i in range(HOSTS):
        (tmp_path / f"host{i}").mkdir()
        procs[f"host{i}"] = subprocess.Popen(cmd, cwd=tmp_path / f"host{i}", env={**env, "METAOPT_WORKER_HOST":
                                             f"host{i}"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mine = storage.replace("metaopt@", f"metaopt:{postgres_server['password']}@")  # this test's own reads
    study = None
    try:
        held = gate.wait(HOSTS, proc=list(procs.values()))  # one trial on each host
        study = optuna.load_study(study_name="hosts", storage=mine)
        trials = study.get_trials()
        victim = trials[held[0]["trial"]]
        assert victim.state == TrialState.RUNNING and victim.intermediate_values and len(trials) < TRIALS
        host, pid = victim.user_attrs["worker"].split(":")
        finished = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}
        assert sorted(finished) == [0, 1]
        os.kill(int(pid), signal.SIGKILL)
        procs[host].wait()
        gate.release()
        for name, proc in procs.items():
            if name != host:
                out, err = proc.communicate(timeout=900)
                assert proc.returncode == 0, err[-3000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    trials = study.get_trials()
    assert all(trials[n].value == v for n, v in finished.items())  # no finished trial lost
    killed = trials[victim.number]
    assert killed.state == TrialState.FAIL and "fail_reason" not in killed.user_attrs
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == victim.number]
    assert retry.state == TrialState.COMPLETE and retry.params == victim.params
    assert retry.user_attrs["worker"].split(":")[0] != host
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert sum(t.state == TrialState.COMPLETE for t in trials) == TRIALS
    # a host that asks for a trial after the others spent the budget gets one that fails as over budget
    # before any work (and before it names its worker); every other trial says which host ran it
    worked = [t for t in trials if not t.user_attrs.get("over_budget")]
    assert all(t.state == TrialState.FAIL for t in trials if t.user_attrs.get("over_budget"))
    assert len({t.user_attrs["worker"].split(":")[0] for t in worked}) >= 2

    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    runs = client.search_runs([client.get_experiment_by_name("hosts").experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.run_id == study.user_attrs["mlflow_parent_run_id"]
    children = {int(r.data.tags["trial_number"]): r for r in runs if r is not parents[0]}
    assert set(children) == {t.number for t in trials if "mlflow_run_id" in t.user_attrs}
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children.values())
    assert all(r.info.status != "RUNNING" for r in runs)
    assert children[victim.number].info.status == "KILLED"
    assert "test_mse" in client.get_run(parents[0].info.run_id).data.metrics
    assert client.search_model_versions("name='hosts'")
