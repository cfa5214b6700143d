"""CDS Hooks: GET /cds-services, POST /cds-services/relapse-risk (patient-view), and feedback."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serving.auth.guard import require_role
from serving.cds.cards import relapse_card
from serving.cds.feedback import FeedbackStore
from serving.cds.issuers import fhir_hosts_for
from serving.cds.prefetch import PREFETCH, PrefetchMissing, gather
from serving.errors import error_response, field_errors
from serving.fhir.bundle import course_from_bundle, parse_bundle
from serving.fhir.errors import BundleError
from serving.json_body import BodyError, parse_json
from serving.pipeline import AuditUnavailable, Caller

SERVICE_ID = "relapse-risk"
SERVICE_PATH = f"/cds-services/{SERVICE_ID}"
DISCOVERY = {"services": [{
    "hook": "patient-view", "id": SERVICE_ID,
    "title": "Relapse risk after ketamine-assisted therapy for alcohol use disorder",
    "description": "Probability of relapse to heavy drinking within 180 days after the end of a "
                   "ketamine-plus-therapy course, with the factors that drive the estimate. "
                   "A card appears only for a course that has ended.",
    "prefetch": PREFETCH,
    "usageRequirements": "Adults completing a ketamine infusion course with psychological "
                         "therapy for severe alcohol use disorder.",
}]}



class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class HookContext(_Strict):
    userId: str = Field(min_length=1, max_length=128)
    patientId: str = Field(min_length=1, max_length=64)


class FhirAuthorization(_Strict):
    access_token: str = Field(max_length=8192)


class HookRequest(_Strict):
    hook: Literal["patient-view"]
    hookInstance: str = Field(min_length=1, max_length=128)
    context: HookContext
    fhirServer: str | None = Field(None, max_length=2048, pattern=r"^https?://")
    fhirAuthorization: FhirAuthorization | None = None
    prefetch: dict[str, Any] | None = None


class OverrideReason(_Strict):
    reason: dict[str, Any] | None = None


class FeedbackItem(_Strict):
    card: str = Field(min_length=1, max_length=64)
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: str | None = Field(None, max_length=40)
    overrideReason: OverrideReason | None = None


class FeedbackRequest(_Strict):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=100)


def _bad_request(exc: ValidationError) -> Response:
    detail = field_errors(exc.errors(include_input=False, include_url=False))
    return error_response(400, "invalid hook request", detail)


async def _json(request: Request) -> Any:
    try:
        return parse_json(await request.body())
    except BodyError:
        return None  # then fails validation: a 400 naming the body


async def discovery(request: Request) -> Response:
    return JSONResponse(DISCOVERY)


async def patient_view(request: Request) -> Response:
    principal = require_role(request, "clinician")  # the EHR, verified by CdsAuthenticator
    try:
        hook = HookRequest.model_validate(await _json(request))
    except ValidationError as exc:
        return _bad_request(exc)
    caller = Caller(f"{principal.sub}|{hook.context.userId}", "clinician")
    pipeline = request.app.state.service().pipeline

    def run() -> list[dict[str, Any]]:
        token = hook.fhirAuthorization.access_token if hook.fhirAuthorization else None
        bundle = gather(hook.prefetch, hook.context.patientId, hook.fhirServer, token,
                        fhir_hosts_for(principal.sub))  # the token goes to these hosts only
        if not any(e["resource"].get("resourceType") == "EpisodeOfCare" for e in bundle["entry"]):
            return []  # no ketamine course on record: nothing to say
        course = course_from_bundle(parse_bundle(bundle), latest_episode=True)
        if course.patient_ref.rsplit("/", 1)[-1] != hook.context.patientId:
            raise BundleError([])
        if not course.ended:
            return []  # a card only once the course has ended
        served = pipeline.predict([course.record], caller, SERVICE_PATH)
        (pred,) = served.scored.predictions
        return [relapse_card(pred, served.model, served.request_id, served.warning)]

    try:
        cards = await anyio.to_thread.run_sync(run)
    except PrefetchMissing as exc:
        return error_response(412, str(exc))
    except BundleError as exc:
        return error_response(422, "the patient's records cannot be scored",
                              [{"field": i.expression or "bundle", "rule": i.code,
                                "message": i.diagnostics} for i in exc.issues])
    except AuditUnavailable:
        return error_response(503, "audit record could not be written")
    return JSONResponse({"cards": cards})


@lru_cache(maxsize=1)
def _feedback_store() -> FeedbackStore:
    from config import get_settings

    return FeedbackStore(get_settings().cds_url)


async def feedback(request: Request) -> Response:
    principal = require_role(request, "clinician")
    try:
        body = FeedbackRequest.model_validate(await _json(request))
    except ValidationError as exc:
        return _bad_request(exc)

    def run() -> None:
        store = _feedback_store()
        for item in body.feedback:
            coding = (item.overrideReason.reason or {}) if item.overrideReason else {}
            code = coding.get("code") if isinstance(coding.get("code"), str) else None
            store.record(principal.sub, item.card, item.outcome, code and code[:64],
                         item.outcomeTimestamp)

    await anyio.to_thread.run_sync(run)
    return JSONResponse({}, status_code=200)


ROUTES = [Route("/cds-services", discovery, methods=["GET"]),
          Route(SERVICE_PATH, patient_view, methods=["POST"]),
          Route(f"{SERVICE_PATH}/feedback", feedback, methods=["POST"])]
