"""The BentoML service: loads the champion (checksum verified) and answers the clinician API.

Run with `make serve` (bentoml serve serving.service:RelapseRiskService).
Routes: POST /score, POST /explain (BentoML APIs, in /docs.json); GET /model,
POST /model/reload, POST /fhir/RiskAssessment/$score and CDS Hooks under
/cds-services (a Starlette app mounted at "/"). Every route but the health
checks and the OpenAPI document needs a bearer JWT (serving/auth/).
"""

from __future__ import annotations

import logging
import os
from http import HTTPStatus
from typing import cast

import bentoml
from bentoml.exceptions import BentoMLException, ServiceUnavailable

from audit import AuditStore
from config import get_settings
from riskmodel.champion import load_champion
from riskmodel.predictor import RiskModel
from serving.async_predict import AsyncPipeline
from serving.auditor import create_workspace_app
from serving.auth.middleware import AuthMiddleware
from serving.auth.principal import Role, has_role, principal_of
from serving.auth.setup import authenticators_from_settings
from serving.body_limit import BodyLimitMiddleware
from serving.cds.routes import SERVICE_PATH
from serving.clinician_app import create_clinician_app
from serving.content_type import FHIR_JSON, JSON, ContentTypeMiddleware
from serving.explaining import explain_response
from serving.fhir.routes import SCORE_PATH
from serving.heap import freeze_startup_heap, thawed
from serving.metrics import MetricsMiddleware, service_templates
from serving.openapi_extra import OpenApiMiddleware
from serving.pipeline import AuditUnavailable, Caller, PredictionPipeline, Served
from serving.schemas import ExplainRequest, ExplainResponse, ScoreRequest, ScoreResponse
from serving.security_headers import SecurityHeadersMiddleware
from serving.startup import startup_checks
from serving.threads import one_blas_thread
from serving.validation_errors import ValidationErrorMiddleware

log = logging.getLogger("relapse_risk.service")
JSON_API_PATHS = ("/score", "/explain")
# Every POST that carries a body, and the media types it accepts (415 otherwise).
JSON_BODIES = {"/score": JSON, "/explain": JSON, "/outcomes": JSON, SCORE_PATH: FHIR_JSON,
               SERVICE_PATH: JSON, f"{SERVICE_PATH}/feedback": JSON}
WORKSPACE_APP = create_workspace_app()  # /audit/* (auditor), POST /outcomes
CLINICIAN_APP = create_clinician_app()  # /model, FHIR, CDS Hooks, /metrics


def served_model() -> RiskModel:
    """MODEL_VERSION pins a version; otherwise the champion pointer written at promotion.
    Checksums are verified on load: a changed artifact is refused."""
    return load_champion(get_settings().models_dir, os.environ.get("MODEL_VERSION") or None)


def caller_of(ctx: bentoml.Context, *roles: Role) -> Caller:
    """The verified caller holding one of `roles`, else 403 (401 is the middleware's job)."""
    principal = principal_of(ctx.request)
    if not has_role(principal, *roles):
        raise BentoMLException("role not allowed", error_code=HTTPStatus.FORBIDDEN)
    assert principal is not None
    return Caller(principal.sub, principal.role)


@bentoml.asgi_app(WORKSPACE_APP, path="/")
@bentoml.asgi_app(CLINICIAN_APP, path="/")
@bentoml.service(
    name="relapse_risk",
    # BentoML's metrics label raw paths, outside our auth: ours replace them (serving/metrics.py)
    metrics={"enabled": False},
    workers=int(os.environ.get("BENTO_WORKERS", "1")),
    threads=int(os.environ.get("BENTO_THREADS", "4")),
    traffic={"timeout": 60},
)
class RelapseRiskService:
    """Relapse risk within 180 days after a ketamine-plus-therapy course, explained."""

    def __init__(self) -> None:
        settings = get_settings()
        startup_checks(settings)  # before any key or store is opened
        model = served_model()
        one_blas_thread()  # once the model's libraries are loaded
        # Opens an existing store or stops the service with the reason (a missing key, no
        # checkpoint chain, a replaced store): it never creates one (`make audit-init`).
        audit = AuditStore(settings.audit_url)
        self.pipeline = PredictionPipeline(model, audit)
        self.predictor = AsyncPipeline(self.pipeline)
        a = model.artifact
        log.info("serving model %s version %s (sha256 %s)", a.name, a.version, a.sha256[:12])
        freeze_startup_heap()  # last: everything above lives as long as the worker

    @bentoml.on_shutdown
    def close_audit(self) -> None:
        """Finish the writes in flight, then sign the last commits into the checkpoint chain
        before the worker exits."""
        self.predictor.close()
        self.pipeline.audit.close()

    @property
    def audit(self) -> AuditStore:
        return self.pipeline.audit

    @property
    def model(self) -> RiskModel:
        return self.pipeline.model

    def reload(self) -> str:
        """Load the current champion (or MODEL_VERSION) into this worker; returns its version."""
        with thawed():  # the replaced model becomes garbage the collector may take
            self.pipeline.use_model(served_model())
        return self.pipeline.model_info.version

    async def _predict(self, courses: list, caller: Caller, endpoint: str) -> Served:
        try:
            return await self.predictor.predict(courses, caller, endpoint)
        except AuditUnavailable:
            raise ServiceUnavailable("audit record could not be written; no score returned") from None

    # async: scored and (SQLite) audited on the event loop (async_predict.py)
    @bentoml.api(route="/score")
    async def score(self, request: ScoreRequest, /, ctx: bentoml.Context) -> ScoreResponse:
        """Score 1 to 1,000 courses: calibrated probability, risk band, top SHAP factors.

        Role: clinician.
        """
        served = await self._predict(list(request.courses), caller_of(ctx, "clinician"),
                                     "/score")
        return ScoreResponse(request_id=served.request_id, model=served.model,
                             warning=served.warning, predictions=served.scored.predictions)

    @bentoml.api(route="/explain")
    async def explain(self, request: ExplainRequest, /, ctx: bentoml.Context,
                      ) -> ExplainResponse:
        """The full SHAP vector of one course, with labels, values and the base value.

        Role: clinician.
        """
        served = await self._predict([request.course], caller_of(ctx, "clinician"),
                                     "/explain")
        return explain_response(served)


# The stacked decorators are typed as handing back the class; at run time this name is the
# bentoml.Service that @bentoml.service made of it.
_service = cast("bentoml.Service[RelapseRiskService]", RelapseRiskService)
# Outermost first: count every request (refusals too), headers on every answer, then
# authentication, the body limit and the media type before any route reads a body.
_service.add_asgi_middleware(MetricsMiddleware, templates=service_templates(
    [WORKSPACE_APP, CLINICIAN_APP], JSON_API_PATHS))
_service.add_asgi_middleware(SecurityHeadersMiddleware)
_service.add_asgi_middleware(OpenApiMiddleware)  # FHIR, CDS Hooks, /model, audit API in docs
_service.add_asgi_middleware(AuthMiddleware, factory=authenticators_from_settings)
_service.add_asgi_middleware(BodyLimitMiddleware, max_bytes=get_settings().max_body_bytes)
_service.add_asgi_middleware(ContentTypeMiddleware, accepted=JSON_BODIES)
_service.add_asgi_middleware(ValidationErrorMiddleware, paths=JSON_API_PATHS)
