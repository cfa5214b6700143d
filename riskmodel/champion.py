"""The one champion loader: the service, batch jobs and reports load the served model here."""

from __future__ import annotations

from pathlib import Path

from riskmodel.artifact import ArtifactError, champion_path
from riskmodel.predictor import RiskModel


def champion_dir(models_dir: Path, version: str | None = None) -> Path:
    """`models_dir/<version>` when a version is pinned, else the champion's export."""
    path = models_dir / version if version else champion_path(models_dir)
    if path is None or not path.is_dir():
        raise ArtifactError(f"no promoted model under {models_dir} (run `make train`)")
    return path


def load_champion(models_dir: Path, version: str | None = None) -> RiskModel:
    """The champion (or a pinned version), checksums verified on load."""
    return RiskModel.load(champion_dir(models_dir, version))
