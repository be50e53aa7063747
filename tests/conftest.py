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


@pytest.fixture
def at_once():
    """Runs each callable in its own thread, all started before any is joined (two writers racing on one
    path); returns their results and whatever they raised, so a test can assert on both."""
    import threading

    def run(*calls):
        results, errors = [], []

        def call(fn):
            try:
                results.append(fn())
            except Exception as exc:  # noqa: BLE001 - the test reports whatever a thread raised
                errors.append(exc)

        threads = [threading.Thread(target=call, args=(fn,)) for fn in calls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results, errors

    return run


@pytest.fixture
def lm_must_not_load(monkeypatch):
    """Bad input must be refused before the slow LM load: loading it fails the test."""
    import prompting.lm

    def no_load(*args, **kwargs):
        raise AssertionError("the LM was loaded before the input was checked")

    monkeypatch.setattr(prompting.lm.FrozenLM, "load", no_load)


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



@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's ``postgresql`` binaries, started by
    ``metaopt.tracking._server.start_postgres``): initdb into a temporary folder, password authentication
    for user ``metaopt``, 127.0.0.1 on a free port (as root, run as the ``postgres`` user, since initdb
    refuses root); stopped by its PID when the session ends. Yields ``{"password", "port", "url":
    callable(database) -> URL without the password (the database is created)}``."""
    import shutil

    from metaopt.tracking._server import postgres_binary, start_postgres

    if not postgres_binary("initdb") or not postgres_binary("pg_ctl"):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    server = start_postgres()
    yield {"password": server.password, "port": server.port, "url": server.url, "server": server}
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
