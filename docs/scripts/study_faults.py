"""Studies across machines (issue #14): the fault table and study throughput.

  python docs/scripts/study_faults.py faults [--trials 4] [--iterations 400] [--faults worker,postgres,mlflow]
  python docs/scripts/study_faults.py throughput [--trials 12] [--iterations 1000]

faults: a real PostgreSQL server and `mlflow server` on loopback; for each fault, a fresh study run by
`metaopt tune --workers 2` (the same command a host runs), the fault injected while a trial is mid-way,
then the same command re-run once to resume. Printed as a markdown table: what the first command
returned, the trials finished before the fault and still finished after (survived), trials retried,
finished trials lost, anything left RUNNING in Optuna or MLflow.
  - worker: SIGKILL of one worker process;
  - postgres: SIGKILL of the PostgreSQL server, restarted 10 s later (it recovers from its WAL);
  - mlflow: SIGKILL of the MLflow server, restarted 10 s later on the same port and store.

throughput: trials per minute of equal size (the random sampler, no pruner) with 1, 2 and 4 workers on
SQLite and on PostgreSQL, and the ratio to one worker. Needs a quiet machine (4 workers on 2 cores share them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import optuna
from optuna.trial import TrialState

from metaopt.tracking._server import start_mlflow_server, start_postgres

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _command(storage: str, study: str, tracking: str, trials: int, iterations: int, workers: int,
             algorithms: str = "fomaml", val_every: int = 5) -> list[str]:
    return [sys.executable, "-m", "metaopt", "tune", "--benchmark", "sinusoid", "--shots", "5", "--algorithms",
            algorithms, "--trials", str(trials), "--iterations", str(iterations), "--val-every", str(val_every),
            "--val-tasks", "5", "--test-tasks", "20", "--storage", storage, "--study", study,
            "--tracking-uri", tracking,
            "--workers", str(workers), "--sampler", "random", "--pruner", "none", "--no-progress"]


def _mid_trial(storage: str, study: str, proc: subprocess.Popen, timeout: float = 600) -> optuna.trial.FrozenTrial:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        try:
            trials = optuna.load_study(study_name=study, storage=storage).get_trials()
        except Exception:
            continue
        running = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
        if running and any(t.state == TrialState.COMPLETE for t in trials):
            return running[0]
    raise RuntimeError("never saw a trial mid-way after a finished one")


def faults(trials: int, iterations: int, which: tuple[str, ...] = ("worker", "postgres", "mlflow")) -> None:
    pg = start_postgres()
    root = Path(tempfile.mkdtemp(prefix="metaopt-faults-"))
    mlflow_port = None
    server = start_mlflow_server(f"sqlite:///{root / 'mlflow.db'}", artifacts_destination=root / "artifacts",
                                 log=root / "mlflow.log")
    mlflow_port = int(server.url.rsplit(":", 1)[1])
    env = {**os.environ, "PGPASSWORD": pg.password, "METAOPT_TUNE_HEARTBEAT": "2", "OMP_NUM_THREADS": "1"}
    rows = []
    try:
        for fault in which:
            storage, study = pg.url(f"faults_{fault}"), f"faults-{fault}"
            mine = pg.url(f"faults_{fault}", with_password=True)
            cmd = _command(storage, study, server.url, trials, iterations, workers=2)
            workdir = root / fault
            workdir.mkdir()
            proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True)
            victim = _mid_trial(mine, study, proc)
            before = {t.number: t.value for t in optuna.load_study(study_name=study, storage=mine).trials
                      if t.state == TrialState.COMPLETE}
            if fault == "worker":
                os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
            elif fault == "postgres":
                pg.stop(signal.SIGKILL)
                time.sleep(10)
                pg.start()
            else:
                os.killpg(server.pid, signal.SIGKILL)
                server.process.wait()
                time.sleep(10)
                server = start_mlflow_server(f"sqlite:///{root / 'mlflow.db'}", port=mlflow_port,
                                             artifacts_destination=root / "artifacts", log=root / "mlflow.log")
            _, err = proc.communicate(timeout=1800)
            first = err.strip().splitlines()[-1][:160] if err.strip() else ""
            again = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=1800)
            final = optuna.load_study(study_name=study, storage=mine).trials
            survived = sum(final[n].state == TrialState.COMPLETE and final[n].value == v for n, v in before.items())
            retried = sum("failed_trial" in t.system_attrs for t in final)
            client = mlflow.MlflowClient(tracking_uri=server.url)
            runs = client.search_runs([client.get_experiment_by_name(study).experiment_id], max_results=1000)
            rows.append(row := (fault, proc.returncode, first, again.returncode, f"{survived}/{len(before)}",
                         len(before) - survived, retried,
                         sum(t.state == TrialState.COMPLETE for t in final),
                         "; ".join(f"{t.number}: {t.user_attrs['fail_reason'][:60]}" for t in final
                                   if t.state == TrialState.FAIL and "fail_reason" in t.user_attrs) or "none",
                         sum(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in final),
                         sum(r.info.status == "RUNNING" for r in runs)))
            print("row: | " + " | ".join(str(c).replace("|", "/") for c in row) + " |", flush=True)  # as it comes
    finally:
        server.stop()
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)
    print(f"command (per fault): {' '.join(_command('postgresql://metaopt@127.0.0.1:PORT/DB', 'faults-FAULT', 'http://127.0.0.1:PORT', trials, iterations, 2)[1:])}")  # noqa: E501
    print("| fault | 1st exit | 1st run's last stderr line | re-run exit | finished before fault, kept | lost "
          "| retried | complete at end | failed by themselves | Optuna RUNNING/WAITING left | MLflow RUNNING left |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |")


def throughput(trials: int, iterations: int, kinds: tuple[str, ...] = ("sqlite", "postgres")) -> None:
    """Every trial the same cost (docs/scripts/tune_spaces.py:equal_cost samples only the two learning rates), so
    trials/min measures the storage and the workers. The rate counts from the first trial's start to the last
    trial's end as the storage recorded them; the whole command's time (start-up, final test) is printed beside."""
    pg = start_postgres()
    root = Path(tempfile.mkdtemp(prefix="metaopt-throughput-"))
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PGPASSWORD": pg.password,
           "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    print(f"command: {' '.join(_command('STORAGE', 'STUDY', 'sqlite:///MLFLOW.db', trials, iterations, 0, 'tune_spaces:equal_cost', iterations // 10)[1:])}")  # noqa: E501
    print("| storage | workers | trials complete / failed | trials window | trials/min | ratio to 1 worker "
          "| whole command |")
    print("|---|---|---|---|---|---|---|")
    try:
        for kind in kinds:
            base = None
            for workers in (1, 2, 4):
                name = f"tp_{kind}_{workers}"
                storage = f"sqlite:///{root / name}.db" if kind == "sqlite" else pg.url(name)
                cmd = _command(storage, name, f"sqlite:///{root / name}-mlflow.db", trials, iterations, workers,
                               "tune_spaces:equal_cost", iterations // 10)
                started = time.perf_counter()
                subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
                seconds = time.perf_counter() - started
                mine = storage if kind == "sqlite" else pg.url(name, with_password=True)
                done = [t for t in optuna.load_study(study_name=name, storage=mine).trials
                        if t.datetime_complete is not None]
                window = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
                complete = sum(t.state == TrialState.COMPLETE for t in done)
                rate = complete / window * 60
                base = base or rate
                print(f"| {kind} | {workers} | {complete} / {len(done) - complete} | {window:.1f} s | {rate:.2f} "
                      f"| {rate / base:.2f} | {seconds:.1f} s |", flush=True)
    finally:
        pg.stop()
        shutil.rmtree(pg.root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["faults", "throughput"])
    parser.add_argument("--trials", type=int)
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--storages", default="sqlite,postgres", help="throughput: which storages (default both)")
    parser.add_argument("--faults", default="worker,postgres,mlflow", help="faults: which (default all three)")
    args = parser.parse_args()
    if args.what == "faults":
        faults(args.trials or 4, args.iterations or 400, tuple(args.faults.split(",")))
    else:
        throughput(args.trials or 12, args.iterations or 1000, tuple(args.storages.split(",")))
