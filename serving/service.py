"""The BentoML service: loads the champion (checksum verified) and answers /score.

Run with `make serve` (bentoml serve serving.service:RelapseRiskService).
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import bentoml

from config import get_settings
from riskmodel.artifact import ArtifactError, champion_path
from riskmodel.predictor import RiskModel
from serving.schemas import ModelInfo, ScoreRequest, ScoreResponse
from serving.scoring import score_courses

log = logging.getLogger("relapse_risk.service")


def resolve_model_dir() -> Path:
    """MODEL_VERSION pins a version; otherwise the champion pointer written at promotion."""
    models_dir = get_settings().models_dir
    pinned = os.environ.get("MODEL_VERSION")
    path = models_dir / pinned if pinned else champion_path(models_dir)
    if path is None or not path.is_dir():
        raise ArtifactError(f"no promoted model under {models_dir} (run `make train`)")
    return path


@bentoml.service(
    name="relapse_risk",
    workers=int(os.environ.get("BENTO_WORKERS", "1")),
    threads=int(os.environ.get("BENTO_THREADS", "4")),
    traffic={"timeout": 60},
)
class RelapseRiskService:
    """Relapse risk within 180 days after a ketamine-plus-therapy course, explained."""

    def __init__(self) -> None:
        path = resolve_model_dir()
        self.model = RiskModel.load(path)  # refuses an artifact whose checksums differ
        a = self.model.artifact
        self.model_info = ModelInfo(name=a.name, version=a.version, sha256=a.sha256)
        log.info("serving model %s version %s (sha256 %s)", a.name, a.version, a.sha256[:12])

    @bentoml.api(route="/score")
    def score(self, request: ScoreRequest, /) -> ScoreResponse:
        """Score 1 to 1,000 courses: calibrated probability, risk band, top SHAP factors."""
        scored = score_courses(self.model, list(request.courses))
        return ScoreResponse(request_id=uuid.uuid4().hex, model=self.model_info,
                             predictions=scored.predictions)
