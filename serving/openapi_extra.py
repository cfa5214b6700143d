"""The routes of the mounted Starlette apps, added to BentoML's /docs.json.

BentoML documents only its @api methods; FHIR, CDS Hooks, /model, /outcomes
and the auditor JSON API live in mounted apps and were invisible to clients
and to the schemathesis fuzzer (tests/service/test_fuzz.py). Request bodies
come from the same pydantic models the routes validate with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from serving.auditor.outcomes import OutcomeRequest
from serving.cds.routes import DISCOVERY, SERVICE_PATH, FeedbackRequest, HookRequest
from serving.fhir.routes import SCORE_PATH

DOCS_PATH = "/docs.json"
REF = "#/components/schemas/{model}"
BUNDLE = {"type": "object", "required": ["resourceType"],
          "properties": {"resourceType": {"type": "string", "enum": ["Bundle"]},
                         "type": {"type": "string"},
                         "entry": {"type": "array", "items": {"type": "object"}}}}
EVENT_ID = {"name": "event_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
FILTERS = [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in [
    ("since", {"type": "string"}), ("until", {"type": "string"}),
    ("model_version", {"type": "string"}), ("caller_sub", {"type": "string"}),
    ("risk_band", {"type": "string", "enum": ["low", "moderate", "high"]}),
    ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
    ("offset", {"type": "integer", "minimum": 0})]]
ANSWERS = {"200": {"description": "OK"}, "400": {"description": "invalid request"},
           "401": {"description": "no or invalid bearer token"},
           "403": {"description": "role not allowed"}}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _post(summary: str, schema: dict[str, Any], media: str = "application/json",
          ) -> dict[str, Any]:
    return {"post": {"summary": summary, "responses": ANSWERS,
                     "requestBody": {"required": True, "content": {media: {"schema": schema}}}}}


def _get(summary: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": ANSWERS, "parameters": parameters or []}}


def extra_paths(components: dict[str, Any]) -> dict[str, Any]:
    return {
        "/model": _get("The served model: version, metrics, promotion, card (any role)"),
        "/model/reload": {"post": {"summary": "Reload the champion in this worker (admin)",
                                   "responses": ANSWERS}},
        SCORE_PATH: _post("FHIR R4B Bundle in, RiskAssessment out (clinician)", BUNDLE,
                          "application/fhir+json"),
        "/cds-services": _get(f"CDS Hooks discovery ({len(DISCOVERY['services'])} service)"),
        SERVICE_PATH: _post("CDS Hooks patient-view (EHR JWT)", _schema(HookRequest, components)),
        f"{SERVICE_PATH}/feedback": _post("CDS Hooks card feedback (EHR JWT)",
                                          _schema(FeedbackRequest, components)),
        "/outcomes": _post("Record an observed outcome (the scoring clinician, "
                           "outcome_recorder)", _schema(OutcomeRequest, components)),
        "/audit/api/events": _get("Prediction events (auditor)", FILTERS),
        "/audit/api/events/{event_id}": _get("One event in full (auditor)", [EVENT_ID]),
        "/audit/api/events/{event_id}/replay": _get("Recompute an event (auditor)", [EVENT_ID]),
        "/audit/api/chain": _get("Chain check (auditor)"),
        "/audit/api/models": _get("Exported versions and promotion log (auditor)"),
    }


def extended(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    spec.setdefault("paths", {}).update(extra_paths(components))
    spec["components"].setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    return spec


class OpenApiMiddleware:
    """Adds `extra_paths` to BentoML's GET /docs.json answer (a small JSON document)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope.get("path") != DOCS_PATH or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def holding(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            if start.get("status") == 200:
                body = json.dumps(extended(json.loads(body))).encode()
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, holding)
