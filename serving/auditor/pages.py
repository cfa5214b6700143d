"""Server-rendered auditor pages (Jinja2): event list, one event with its plot, models."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from riskmodel.promotion_log import read_promotions
from serving.auditor.api import load_event
from serving.auditor.params import RISK_BANDS, parse_filters
from serving.auditor.plots import waterfall_png
from serving.auditor.registry import exported_versions
from serving.auditor.words import feature_lines
from serving.auditor.workspace import Workspace
from serving.auth.guard import require_role

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
PAGE_SIZE = 25


def _ws(request: Request) -> Workspace:
    return request.app.state.workspace


def _render(request: Request, name: str, **context: object) -> Response:
    ws = _ws(request)
    base = request.scope.get("root_path", "").rstrip("/")
    response = templates.TemplateResponse(request, name, {"base": base, "chain": ws.chain_status(),
                                                          **context})
    # Pseudonymised clinical data: never cached by a browser or proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


def index(request: Request) -> Response:
    base = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{base}/events", status_code=303)


def events_page(request: Request) -> Response:
    who = require_role(request, "auditor")
    ws = _ws(request)
    f = parse_filters(request.query_params, max_limit=200)
    if "limit" not in request.query_params:
        f = type(f)(**{**f.__dict__, "limit": PAGE_SIZE})
    ws.record(who, "list_events", filters=f.for_record())
    events = ws.store.list_events(**f.store_filters(), limit=f.limit, offset=f.offset)
    total = ws.store.count_events(**f.store_filters())
    prev_q = f.query(offset=max(0, f.offset - f.limit)) if f.offset > 0 else None
    next_q = f.query(offset=f.offset + f.limit) if f.offset + f.limit < total else None
    return _render(request, "events.html", events=events, filters=f, total=total,
                   bands=RISK_BANDS, prev_q=prev_q, next_q=next_q, who=who)


def event_page(request: Request) -> Response:
    who = require_role(request, "auditor")
    ws, event_id = _ws(request), request.path_params["event_id"]
    ws.record(who, "get_event", event_ids=[event_id])
    event = load_event(ws, event_id)
    lines = feature_lines(event.features, event.shap_values)
    outcomes = ws.store.list_outcomes(course_ref=event.course_ref)
    return _render(request, "event.html", event=event, lines=lines, outcomes=outcomes, who=who)


def waterfall(request: Request) -> Response:
    who = require_role(request, "auditor")
    ws, event_id = _ws(request), request.path_params["event_id"]
    ws.record(who, "plot_event", event_ids=[event_id])
    png = waterfall_png(load_event(ws, event_id))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def models_page(request: Request) -> Response:
    who = require_role(request, "auditor")
    ws = _ws(request)
    ws.record(who, "view_models")
    log = list(reversed(read_promotions(ws.models_dir)))
    return _render(request, "models.html", log=log, versions=exported_versions(ws.models_dir),
                   who=who)


ROUTES = [
    Route("/", index),
    Route("/events", events_page),
    Route("/events/{event_id}", event_page),
    Route("/events/{event_id}/waterfall.png", waterfall),
    Route("/models", models_page),
]
