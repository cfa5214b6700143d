"""Auditor JSON endpoints: event list, one event in full, replay, chain status, models."""

from __future__ import annotations

from dataclasses import asdict

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from audit import StoredPrediction
from riskmodel.promotion_log import read_promotions
from serving.auditor.params import parse_filters
from serving.auditor.registry import exported_versions
from serving.auditor.replay import replay_event
from serving.auditor.workspace import Workspace
from serving.auth.guard import require_role


def _ws(request: Request) -> Workspace:
    return request.app.state.workspace


def load_event(ws: Workspace, event_id: str) -> StoredPrediction:
    if len(event_id) != 32 or not all(c in "0123456789abcdef" for c in event_id):
        raise HTTPException(404, "no such event")
    event = ws.store.get_event(event_id)
    if event is None:
        raise HTTPException(404, "no such event")
    return event


def list_events(request: Request) -> JSONResponse:
    who = require_role(request, "auditor")
    ws, f = _ws(request), parse_filters(request.query_params)
    ws.record(who, "api_list_events", filters=f.for_record())
    events = ws.store.list_events(**f.store_filters(), limit=f.limit, offset=f.offset)
    total = ws.store.count_events(**f.store_filters())
    return JSONResponse({"total": total, "limit": f.limit, "offset": f.offset,
                         "events": [e.model_dump(mode="json") for e in events]})


def get_event(request: Request) -> JSONResponse:
    who = require_role(request, "auditor")
    ws, event_id = _ws(request), request.path_params["event_id"]
    ws.record(who, "api_get_event", event_ids=[event_id])
    event = load_event(ws, event_id)
    outcomes = ws.store.list_outcomes(course_ref=event.course_ref)
    return JSONResponse({"event": event.model_dump(mode="json"),
                         "outcomes": [o.model_dump(mode="json") for o in outcomes]})


def replay(request: Request) -> JSONResponse:
    who = require_role(request, "auditor")
    ws, event_id = _ws(request), request.path_params["event_id"]
    ws.record(who, "api_replay", event_ids=[event_id])
    return JSONResponse(replay_event(load_event(ws, event_id), ws.models).to_dict())


def chain(request: Request) -> JSONResponse:
    who = require_role(request, "auditor")
    ws = _ws(request)
    ws.record(who, "api_verify_chain")
    status = ws.chain_status(fresh=True)
    return JSONResponse({"ok": status.ok, "summary": status.summary, "rows": status.rows,
                         "problems": status.problems})


def models(request: Request) -> JSONResponse:
    who = require_role(request, "auditor")
    ws = _ws(request)
    ws.record(who, "api_models")
    return JSONResponse({"promotion_log": read_promotions(ws.models_dir),
                         "versions": [asdict(v) for v in exported_versions(ws.models_dir)]})


ROUTES = [
    Route("/api/events", list_events),
    Route("/api/events/{event_id}", get_event),
    Route("/api/events/{event_id}/replay", replay),
    Route("/api/chain", chain),
    Route("/api/models", models),
]
