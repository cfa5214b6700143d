"""POST /outcomes: the observed outcome of a past course, from whoever may record it.

Who may: the clinician who had the course scored (the caller of one of its
prediction events), or the `outcome_recorder` role for any course. Anyone
else gets the very answer a never-scored course gets, so the route cannot
be used to learn which courses were scored; and the answer names only the
caller's own prediction events, never other callers'.

The outcome goes into its own append-only chain, linked to the course's
prediction events by course surrogate and event ids; the predictions are
never rewritten. The raw course id is turned into its surrogate at once and
is neither stored nor echoed.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from audit import AuditWriteError, OutcomeEvent
from audit.events import OutcomeValue
from serving.auditor.workspace import Workspace
from serving.auth.guard import require_role
from serving.errors import FieldError, error_response, field_errors
from serving.json_body import BodyError, parse_json

MAX_BODY_BYTES = 16_384
MAX_LINKED_EVENTS = 1000
NOT_YOURS = "no prediction of this course that you may record an outcome for"


_OUTCOME_OF: dict[bool | None, OutcomeValue] = {True: "relapsed", False: "no_relapse",
                                                None: "censored"}

class OutcomeRequest(BaseModel):
    """Field names as in the raw `outcomes` record contract (DESIGN.md)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    course_id: str = Field(min_length=1, max_length=100)
    relapsed_180d: bool | None  # null: follow-up ended before 180 days without relapse
    relapse_date: date | None = None
    followup_end_date: date

    @model_validator(mode="after")
    def _consistent(self) -> OutcomeRequest:
        if self.relapsed_180d is True and self.relapse_date is None:
            raise ValueError("relapse_date is required when relapsed_180d is true")
        if self.relapse_date is not None and self.relapse_date > self.followup_end_date:
            raise ValueError("relapse_date is after followup_end_date")
        return self

    @property
    def outcome(self) -> OutcomeValue:
        return _OUTCOME_OF[self.relapsed_180d]


def _errors(exc: ValidationError) -> list[FieldError]:
    # pydantic's `input` could carry the raw course id: never asked for.
    return field_errors(exc.errors(include_input=False, include_url=False))


async def record_outcome(request: Request) -> JSONResponse:
    who = require_role(request, "clinician", "outcome_recorder")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, "body too large")
    try:
        req = OutcomeRequest.model_validate(parse_json(body or b"null"))
    except BodyError as exc:  # before ValidationError: both are ValueErrors
        return error_response(400, "invalid outcome", str(exc))
    except ValidationError as exc:
        return error_response(400, "invalid outcome", _errors(exc))
    ws: Workspace = request.app.state.workspace
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_store_outcome, ws, req, who.sub, who.role)


def _store_outcome(ws: Workspace, req: OutcomeRequest, sub: str, role: str) -> JSONResponse:
    store = ws.store
    course_ref = store.course_ref(req.course_id)
    linked = store.list_events(course_ref=course_ref, limit=MAX_LINKED_EVENTS)
    own = [e.event_id for e in linked if e.caller_sub == sub]
    if not linked or not (own or role == "outcome_recorder"):
        # One answer for "never scored" and "scored by someone else": no existence oracle.
        raise HTTPException(404, NOT_YOURS)
    try:
        stored = store.record_outcome(OutcomeEvent(
            caller_sub=sub, caller_role=role, course_ref=course_ref, outcome=req.outcome,
            relapse_date=req.relapse_date.isoformat() if req.relapse_date else None,
            followup_end_date=req.followup_end_date.isoformat(),
            linked_event_ids=[e.event_id for e in linked]))
    except AuditWriteError:
        raise HTTPException(503, "outcome could not be recorded") from None
    return JSONResponse({"outcome_id": stored.event_id, "outcome": stored.outcome,
                         "linked_event_ids": own, "linked_events": len(stored.linked_event_ids)},
                        status_code=201)


ROUTES = [Route("/outcomes", record_outcome, methods=["POST"])]
