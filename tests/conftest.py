"""Shared fixtures: small, fast task sources for the conformance suite."""

from __future__ import annotations

import os

import numpy as np
import pytest

from metaopt.tasks.base import ClassDataset, ClassSplits
from metaopt.tasks.episodes import EpisodeSampler


def synthetic_classes(
    num_classes: int = 12, per_class: int = 20, size: int = 16, seed: int = 0, noise: float = 40.0, shift: int = 1
) -> ClassDataset:
    """Each class is a fixed random blob pattern; examples are noisy, shifted copies of it."""
    rng = np.random.default_rng(seed)
    protos = rng.random((num_classes, size, size)) > 0.7
    images, labels = [], []
    for c in range(num_classes):
        for _ in range(per_class):
            shifted = np.roll(protos[c], rng.integers(-shift, shift + 1, size=2), axis=(0, 1))
            noisy = np.clip(shifted * 200 + rng.normal(0, noise, (size, size)), 0, 255)
            images.append(noisy.astype(np.uint8)[None])
            labels.append(c)
    return ClassDataset(
        "synthetic", np.stack(images), np.asarray(labels), [f"c{i}" for i in range(num_classes)],
        [f"g{i // 4}" for i in range(num_classes)],
    )


@pytest.fixture(scope="session")
def class_sources():
    ds = synthetic_classes()
    splits = ClassSplits(tuple(range(8)), (8, 9), (10, 11))
    return {
        split: EpisodeSampler(ds, splits.classes(split), ways=2, shots=1, queries=3)
        for split in ("train", "val", "test")
    }


@pytest.fixture(autouse=True)
def _isolate_mlflow_tracking_uri():
    """``mlflow.set_tracking_uri`` (called by every ``mlflow_run``) also exports MLFLOW_TRACKING_URI, so
    the subprocesses of later tests would log to an earlier test's store; put the variable back."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` (SQLite store, served artifacts) on a free 127.0.0.1 port; yields its
    http URI and is stopped by its PID (process group) when the session ends."""
    from metaopt.tracking._server import start_mlflow_server

    root = tmp_path_factory.mktemp("mlflow-server")
    server = start_mlflow_server(f"sqlite:///{root / 'mlflow.db'}", artifacts_destination=root / "artifacts",
                                 log=root / "server.log", wait=180)
    yield server.url
    server.stop()


def _postgres_bin(name: str) -> str | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's ``postgresql`` binaries): ``initdb`` into a temporary folder,
    password authentication (scram-sha-256) for user ``metaopt``, listening on 127.0.0.1 on a free port;
    stopped by its PID (SIGINT: fast shutdown) when the session ends. initdb refuses to run as root, so
    as root the server runs as the ``postgres`` user. Yields ``{"host", "port", "user", "password",
    "url": callable(database) -> URL without the password}``; ``url(db)`` creates the database."""
    import secrets
    import shutil
    import signal
    import subprocess
    import tempfile
    import time

    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    import psycopg  # the metaopt[postgres] extra; scripts/setup.sh installs it

    from metaopt.tracking._server import free_port

    run_as: list[str] = []
    root = tempfile.mkdtemp(prefix="metaopt-pg-")  # under /tmp, which the postgres user can reach
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run initdb as")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    password, port = secrets.token_hex(12), free_port()
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w") as f:
        f.write(password + "\n")
    if run_as:
        shutil.chown(pwfile, "postgres", "postgres")
    data = os.path.join(root, "data")
    subprocess.run([*run_as, initdb, "-D", data, "-U", "metaopt", "--pwfile", pwfile, "--auth", "scram-sha-256",
                    "--encoding", "UTF8", "--no-sync"], check=True, capture_output=True)
    os.remove(pwfile)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=100"
    subprocess.run([*run_as, pg_ctl, "-D", data, "-o", options, "-l", os.path.join(root, "server.log"), "-w",
                    "-t", "60", "start"], check=True, capture_output=True)
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = int(f.readline())

    def url(database: str) -> str:
        with psycopg.connect(host="127.0.0.1", port=port, user="metaopt", password=password, dbname="postgres",
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{database}"')
        return f"postgresql://metaopt@127.0.0.1:{port}/{database}"

    yield {"host": "127.0.0.1", "port": port, "user": "metaopt", "password": password, "url": url, "pid": pid}
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    shutil.rmtree(root, ignore_errors=True)
