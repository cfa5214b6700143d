"""MLflow tracking and registry, with a store at a fixed path by default.

MLflow is the system of record for runs and versions; `models/<version>/`
holds the export of each promoted version and `models/CHAMPION` points at
the served one, so serving never needs the tracking server.
"""

from __future__ import annotations

import logging
import os

from config import Settings

log = logging.getLogger(__name__)


def configure_mlflow(settings: Settings, experiment: str) -> str:
    """Point MLflow at the project store and select (or create) `experiment`."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment,
                                 artifact_location=settings.mlflow_artifact_root.as_uri() + "/" + experiment)
    mlflow.set_experiment(experiment)
    return experiment


def set_champion_alias(settings: Settings, version: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, version)


def promoter() -> str:
    """Who promoted: PROMOTED_BY if set, else the OS user."""
    import getpass

    return os.environ.get("PROMOTED_BY") or getpass.getuser()
