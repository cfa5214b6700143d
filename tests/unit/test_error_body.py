"""One error body: {"error": str, "detail"?: reason | [{field, rule, message}]}, never a value."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.auth.middleware import refuse
from serving.body_limit import BodyLimitMiddleware
from serving.errors import field_errors, http_error

SECRET = "P-0000-SECRET"


class Course(BaseModel):
    course_id: str = Field(max_length=5)
    age_years: int = Field(le=90)


def _shape_ok(body: dict[str, Any]) -> bool:
    if set(body) - {"error", "detail"} or not isinstance(body.get("error"), str):
        return False
    detail = body.get("detail", "")
    return isinstance(detail, str) or all(set(d) == {"field", "rule", "message"} for d in detail)


def test_field_errors_name_field_and_rule_never_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        Course.model_validate({"course_id": SECRET, "age_years": 151})
    errors = field_errors(info.value.errors())
    assert {e["field"] for e in errors} == {"course_id", "age_years"}
    assert {e["rule"] for e in errors} == {"string_too_long", "less_than_equal"}
    assert SECRET not in json.dumps(errors) and "151" not in json.dumps(errors)


def test_http_exceptions_of_mounted_apps_use_the_shape() -> None:
    def refuse_route(request: Any) -> None:
        raise HTTPException(403, "role 'auditor' may not use this resource")

    app = Starlette(routes=[Route("/x", refuse_route)],
                    exception_handlers={HTTPException: http_error})
    r = TestClient(app).get("/x")
    assert r.status_code == 403 and _shape_ok(r.json())
    assert r.json()["error"] == "role 'auditor' may not use this resource"


def _sent(call: Any) -> tuple[int, dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(call(send))
    return messages[0]["status"], json.loads(messages[1]["body"])


def test_middleware_refusals_use_the_shape() -> None:
    status, body = _sent(lambda send: refuse(send, 401, "token expired", error="invalid_token"))
    assert status == 401 and _shape_ok(body) and body["detail"] == "token expired"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the body limit answers first")

    limit = BodyLimitMiddleware(app, max_bytes=10)
    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"11")]}
    status, body = _sent(lambda send: limit(scope, None, send))
    assert status == 413 and _shape_ok(body)
