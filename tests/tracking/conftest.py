"""One embedded SQLite tracking store for the tracking tests (creating one takes seconds)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def experiment(request) -> str:
    """An experiment name per test, so tests sharing the store do not see each other's runs."""
    return f"test-{request.node.name}"

