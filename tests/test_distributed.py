"""One training run on two gloo processes equals the one-process run (issue #34).

The two-process results come from ``tests/_distributed_cases.py`` started twice with a launcher's environment on
a free loopback port (computed once per module); the references from the same functions in this process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import _distributed_cases as cases
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from metaopt import distributed
from metaopt.algorithms import available_learners, get_learner
from metaopt.algorithms.base import split_refusal
from metaopt.cli import main
from metaopt.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
FMNIST = Path("/usr/share/datasets/fashion-mnist")
needs_fmnist = pytest.mark.skipif(not FMNIST.is_dir(), reason="Debian dataset-fashion-mnist not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launcher_env(rank: int, world: int, port: int) -> dict[str, str]:
    return {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
            # The references run in this process: the same thread count gives the same float32 kernels.
            "OMP_NUM_THREADS": str(torch.get_num_threads()),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


# -- the pure parts ---------------------------------------------------------------------------------------------
@given(st.integers(0, 200), st.integers(1, 9))
def test_shares_are_contiguous_balanced_and_cover_every_index_once(n, world):
    shares = [distributed.share(n, world, r) for r in range(world)]
    assert [i for s in shares for i in s] == list(range(n))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_no_launcher_is_one_process():
    assert distributed.launch_env({}) is None
    assert (distributed.world_size(), distributed.rank()) == (1, 0)
    assert distributed.gather([1.0, 2.0]) == [1.0, 2.0] and distributed.all_reduce_sum(3.0) == 3.0


@pytest.mark.parametrize(("env", "message"), [
    ({"RANK": "0", "WORLD_SIZE": "2"}, "MASTER_ADDR, MASTER_PORT missing"),
    ({"RANK": "x", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "RANK='x' is not an integer"),
    ({"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "RANK=2 must be from 0 to 1"),
    ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "70000"}, "MASTER_PORT=70000"),
    ({"LOCAL_RANK": "0"}, "RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT missing"),
])
def test_bad_launcher_environment_is_one_line_exit_2(monkeypatch, capsys, tmp_path, env, message):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--iterations", "1", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


REFUSED = ["reptile", "taml", "rl2", "maml-rl", "fomaml-rl", "abml", "snail"]


def test_the_refused_learners_are_exactly_those_that_cannot_split():
    refused = sorted(name for name in available_learners() if split_refusal(get_learner(name)))
    assert refused == sorted(REFUSED)
    assert split_refusal(object) is not None  # a duck-typed learner


@pytest.mark.parametrize("algorithm", REFUSED)
def test_unsplittable_learners_are_refused_under_a_launcher(monkeypatch, capsys, tmp_path, algorithm):
    for key, value in {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "9"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--algorithm", algorithm, "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "cannot train under torchrun (2 processes)" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_the_trainer_refuses_them_too(monkeypatch):
    from metaopt.runs import RunConfig, build_run

    run = build_run(RunConfig("reptile", "sinusoid", train={"meta_batch": 2}))
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with pytest.raises(ConfigError, match="own meta-step.*cannot train on 2 processes"):
        run.trainer(progress=False)


# -- two gloo processes -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Both ranks' results, plus the folders of the runs handed between one and two processes."""
    if not FMNIST.is_dir():
        pytest.skip("Debian dataset-fashion-mnist not installed")
    folder = tmp_path_factory.mktemp("ranks")
    begun_alone, begun_by_two = folder / "begun-alone", folder / "begun-by-two"
    cases.short_run(begun_alone, iterations=cases.RUN["iterations"] // 2)  # one process begins; two finish
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "_distributed_cases.py"), str(folder),
                               str(begun_alone), str(begun_by_two)], env=_launcher_env(r, 2, port), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(2)]
    try:
        outputs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs
    ranks = [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(2)]
    return {"ranks": ranks, "begun_by_two": begun_by_two}


@needs_fmnist
@pytest.mark.parametrize("case", list(cases.GRADIENT_CASES))
def test_one_outer_step_on_two_processes_equals_one_process(two_ranks, case):
    dtype = cases.GRADIENT_CASES[case][2]
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    reference = cases.outer_step_gradient(case)
    for result in two_ranks["ranks"]:
        assert result["world"] == 2
        got = result["gradients"][case]
        assert [g is None for g in got["grads"]] == [g is None for g in reference["grads"]]
        pairs = [(mine, ref) for mine, ref in zip(got["grads"], reference["grads"], strict=True) if ref is not None]
        assert all(mine.dtype == dtype for mine, _ in pairs)
        # Relative to the largest entry of the whole gradient: a tensor whose gradient is zero in exact arithmetic
        # (a conv bias before batch-statistics BatchNorm) holds rounding noise only, bounded by no tolerance of its own.
        scale = max(float(ref.abs().max()) for _, ref in pairs)
        assert max(float((mine - ref).abs().max()) for mine, ref in pairs) <= tol * scale
        assert got["meta_loss"] == pytest.approx(reference["meta_loss"], rel=tol)


@needs_fmnist
def test_the_gradient_clip_sees_the_whole_meta_batch(two_ranks):
    clipped = two_ranks["ranks"][0]["gradients"]["maml-clip-f64"]["grads"]
    norm = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in clipped if g is not None]))
    # Clipped once, after the all-reduce, to the bound (clip_grad_norm_ divides by the norm plus 1e-6).
    assert float(norm) == pytest.approx(1e-3, rel=1e-5)


def _assert_same_run(got, ref):
    assert [h["iteration"] for h in got["history"]] == [h["iteration"] for h in ref["history"]] == [3, 6]
    for mine, theirs in zip(got["history"], ref["history"], strict=True):
        for key in ("val", "val_ci95", "meta_loss"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-7), key
    assert got["test"] == pytest.approx(ref["test"], rel=1e-5, abs=1e-7)
    assert len(got["test"]) == cases.TEST_TASKS


@needs_fmnist
def test_a_short_run_on_two_processes_equals_one_process(two_ranks):
    reference = cases.short_run()
    for result in two_ranks["ranks"]:
        _assert_same_run(result["run"], reference)


@needs_fmnist
def test_runs_move_between_one_and_two_processes(two_ranks):
    reference = cases.short_run()
    for result in two_ranks["ranks"]:  # begun by one process, finished by two
        _assert_same_run(result["resumed"], reference)
    _assert_same_run(cases.short_run(two_ranks["begun_by_two"]), reference)  # begun by two, finished by one


# -- torchrun, killed and started again -------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rank_of(pid: int) -> int | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    found = [e for e in env if e.startswith(b"RANK=")]
    return int(found[0][5:]) if found else None


def test_torchrun_killed_rank_then_the_same_command_resumes_one_run(tmp_path):
    out, store = tmp_path / "run", f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), "-m", "metaopt", "train", "--algorithm", "maml",
               "--iterations", "200", "--meta-batch", "2", "--val-every", "10", "--val-tasks", "4",
               "--test-tasks", "4", "--out", str(out), "--no-progress", "--json", "--tracking-uri", store]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        victims = [pid for pid in _children(first.pid) if _rank_of(pid) == 1]
        assert victims, "no checkpoint, or no rank 1 to kill, before the time-out"
        os.kill(victims[0], signal.SIGKILL)
        output = first.communicate(timeout=120)[0]
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode != 0 and not (out / "results.json").exists(), output  # killed before it finished

    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout + second.stderr
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["resumed"] and summary["iterations"] == 200 and summary["processes"] == 2
    assert json.loads((out / "results.json").read_text())["mlflow_run_id"] == summary["mlflow_run_id"]
    # One run folder; beside it only the MLflow store and its artifacts (a copy of config.json among them).
    assert {p.name for p in tmp_path.iterdir()} <= {"run", "mlflow.db", "mlruns"}
    assert [p.parent for p in tmp_path.rglob("checkpoint.pt")] == [out]

    import mlflow

    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name("metaopt-train")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in runs] == [summary["mlflow_run_id"]]
    assert runs[0].info.status == "FINISHED" and runs[0].data.tags["metaopt.processes"] == "2"
