"""POST /fhir/RiskAssessment/$score: Bundle in, RiskAssessment out (OperationOutcome on errors)."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from features.course_status import NOT_ENDED_MESSAGE
from serving.auth.guard import require_role
from serving.fhir.bundle import course_from_bundle, parse_bundle
from serving.fhir.errors import BundleError, Issue, operation_outcome
from serving.fhir.risk_assessment import risk_assessment
from serving.json_body import BodyError, parse_json
from serving.pipeline import AuditUnavailable, Caller

FHIR_JSON = "application/fhir+json"
SCORE_PATH = "/fhir/RiskAssessment/$score"


def fhir_response(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def outcome(status: int, code: str, message: str) -> Response:
    return fhir_response(operation_outcome([Issue(code, message)]), status)


async def score_bundle(request: Request) -> Response:
    principal = require_role(request, "clinician")
    try:
        data = parse_json(await request.body())
    except BodyError as exc:
        return outcome(400, "structure", str(exc))
    pipeline = request.app.state.service().pipeline

    def run() -> dict[str, Any]:
        course = course_from_bundle(parse_bundle(data))
        if not course.ended:  # the one rule (features/course_status.py): no final score
            raise BundleError([Issue("business-rule", NOT_ENDED_MESSAGE)])
        served = pipeline.predict([course.record], Caller(principal.sub, principal.role),
                                  SCORE_PATH)
        (pred,) = served.scored.predictions
        return risk_assessment(course, pred, served.model, served.request_id, served.warning)

    try:
        return fhir_response(await anyio.to_thread.run_sync(run))
    except BundleError as exc:
        return fhir_response(operation_outcome(exc.issues), 422)
    except AuditUnavailable:
        return outcome(503, "transient", "audit record could not be written; no score returned")


ROUTES = [Route(SCORE_PATH, score_bundle, methods=["POST"])]
