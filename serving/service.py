"""The BentoML service: loads the champion (checksum verified) and answers /score.

Run with `make serve` (bentoml serve serving.service:RelapseRiskService).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import bentoml
from bentoml.exceptions import ServiceUnavailable

from config import get_settings
from riskmodel.artifact import ArtifactError, champion_path
from riskmodel.predictor import RiskModel
from serving.audit import AuditStore, AuditWriteError
from serving.recording import prediction_events
from serving.schemas import ModelInfo, ScoreRequest, ScoreResponse
from serving.scoring import score_courses

# Until the API issue brings bearer tokens, callers are recorded as unauthenticated.
ANONYMOUS = ("anonymous", "unauthenticated")

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
        settings = get_settings()
        self.audit = AuditStore(settings.audit_url,
                                checkpoint_every=settings.audit_checkpoint_every)
        log.info("serving model %s version %s (sha256 %s)", a.name, a.version, a.sha256[:12])

    @bentoml.api(route="/score")
    def score(self, request: ScoreRequest, /) -> ScoreResponse:
        """Score 1 to 1,000 courses: calibrated probability, risk band, top SHAP factors."""
        started = time.perf_counter()
        courses = list(request.courses)
        request_id = uuid.uuid4().hex
        scored = score_courses(self.model, courses)
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            events = prediction_events(self.audit, self.model, courses, scored,
                                       request_id=request_id, caller_sub=ANONYMOUS[0],
                                       caller_role=ANONYMOUS[1], endpoint="/score",
                                       latency_ms=latency_ms)
            self.audit.append_many(events)  # durable before the answer leaves (fail closed)
        except (AuditWriteError, ValueError) as exc:
            log.error("audit write failed (%s): no score returned", type(exc).__name__)
            raise ServiceUnavailable("audit record could not be written; no score returned") from None
        return ScoreResponse(request_id=request_id, model=self.model_info,
                             predictions=scored.predictions)
