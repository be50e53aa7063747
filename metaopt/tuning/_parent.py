"""One MLflow parent run per study, however many ``metaopt tune`` processes start it at once.

Every host runs the same command; each needs the study's parent run to nest its trials under. The
study's user attr ``mlflow_parent_run_id`` names it once set, but hosts that start together all find
it unset. So a process that finds none creates a candidate run tagged ``metaopt.study_parent=STUDY``,
then lists all candidates: the earliest (start time, then run id) is the parent, and a process whose
candidate lost deletes it before running any trial. Every process decides after its own candidate
exists, so they agree (hosts' clocks must agree to well under the time between two starts; NTP does).
"""

from __future__ import annotations

from typing import Any

import optuna

__all__ = ["PARENT_TAG", "parent_run_id"]

PARENT_TAG = "metaopt.study_parent"


def _experiment_id(client: Any, name: str) -> str:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # another host created it just now
        return client.get_experiment_by_name(name).experiment_id


def _candidates(client: Any, experiment_id: str, study: str) -> list[Any]:
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{study}'",
                              max_results=1000)
    return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))


def parent_run_id(study: optuna.Study, *, study_name: str, tracking_uri: str, tags: dict[str, str]
                  ) -> tuple[str, bool]:
    """(the study's parent run id, whether this process created it). The run is left as it is (the
    caller resumes it with ``mlflow_run(run_id=...)``)."""
    from metaopt._imports import require

    known = study.user_attrs.get("mlflow_parent_run_id")
    if known:
        return known, False
    mlflow = require("mlflow", "mlflow")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment_id = _experiment_id(client, study_name)
    found = _candidates(client, experiment_id, study_name)
    if found:
        winner, created = found[0].info.run_id, False
    else:
        mine = client.create_run(experiment_id, run_name=study_name, tags={**tags, PARENT_TAG: study_name})
        winner = _candidates(client, experiment_id, study_name)[0].info.run_id
        created = winner == mine.info.run_id
        if not created:  # another host's candidate is older: ours never ran a trial
            client.delete_run(mine.info.run_id)
    study.set_user_attr("mlflow_parent_run_id", winner)
    return winner, created
