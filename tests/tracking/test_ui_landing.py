"""The MLflow UI opens metaopt's experiments as model training (runs), not on MLflow 3's GenAI overview."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from metaopt.tracking import mlflow_run
from metaopt.tracking._runs import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, mlflow_ui_url


def test_experiments_are_tagged_as_model_training_once(tracking_uri, experiment):
    import mlflow

    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri):
        pass
    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, "genai_development")  # the user's choice
    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri):
        pass
    assert client.get_experiment(exp.experiment_id).tags[EXPERIMENT_KIND_TAG] == "genai_development"


def test_ui_url_opens_the_latest_experiment_in_the_training_view(tracking_uri, experiment):
    with mlflow_run(experiment=experiment, tracking_uri=tracking_uri) as run:
        pass
    url = mlflow_ui_url("http://127.0.0.1:5000/", tracking_uri)
    assert url == f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs?workflowType=machine_learning"
    assert mlflow_ui_url("http://h:1") == "http://h:1/#/experiments?workflowType=machine_learning"


def _dom(url: str, profile) -> str:
    # --virtual-time-budget lets the single-page app fetch and render before the DOM is dumped
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--user-data-dir={profile}", "--virtual-time-budget=30000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed")
def test_landing_page_in_headless_chromium_lists_the_runs(mlflow_server, tmp_path):
    """What `metaopt ui` prints, opened in a real browser with a fresh profile, shows the training runs."""
    import mlflow

    with mlflow_run(experiment="ui-landing", run_name="landing-run", tracking_uri=mlflow_server) as run:
        mlflow.log_metric("val_mse", 0.25)
    url = mlflow_ui_url(mlflow_server, mlflow_server)
    assert f"/experiments/{run.info.experiment_id}/runs" in url
    dom = _dom(url, tmp_path / "profile")
    assert "landing-run" in dom, dom[:2000]  # the runs table, with our run in it
    assert "No data available" not in dom  # not the GenAI overview's empty trace charts
