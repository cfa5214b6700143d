"""Helpers for the auditor workspace tests: a caller in the ASGI scope, real scored events."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from audit import AuditStore, StoredPrediction
from devtools.example_course import example_request
from riskmodel.predictor import RiskModel
from serving.auth.principal import Principal, set_principal
from serving.recording import prediction_events
from serving.schemas import ScoreRequest
from serving.scoring import score_courses

ASGIApp = Callable[..., Any]


def as_principal(app: ASGIApp, principal: Principal | None) -> ASGIApp:
    """Test-only stand-in for the auth middleware: put a verified caller in the scope."""

    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        if principal is not None and scope["type"] in ("http", "websocket"):
            set_principal(scope, principal)
        await app(scope, receive, send)

    return wrapped


def courses(n: int, prefix: str = "C") -> list[dict]:
    """n variations of the example course (different ids, ages and craving)."""
    base = example_request()["courses"][0]
    out = []
    for i in range(n):
        c = copy.deepcopy(base)
        cid = f"{prefix}-{i}"
        c["intake"].update(course_id=cid, patient_id=f"P-{prefix}-{i}", age_years=20 + (i * 7) % 50,
                           phq9_total=(i * 5) % 28, audit_total=10 + (i * 3) % 30)
        for s in c["sessions"]:
            s["course_id"] = cid
        out.append(c)
    return out


def score_into(store: AuditStore, model: RiskModel, raw_courses: list[dict], *,
               caller_sub: str = "dr-a", request_id: str = "req-1") -> list[StoredPrediction]:
    """Score through the serving code path and append the events as /score would."""
    parsed = list(ScoreRequest.model_validate({"courses": raw_courses}).courses)
    scored = score_courses(model, parsed)
    events = prediction_events(store, model, parsed, scored, request_id=request_id,
                               caller_sub=caller_sub, caller_role="clinician", endpoint="/score",
                               latency_ms=2.0)
    return store.append_many(events)
