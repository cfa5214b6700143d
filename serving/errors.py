"""One error body for every refusal the service writes itself.

    {"error": "<what went wrong, one line>", "detail": <optional>}

`detail` is either a reason (a string) or, when fields are at fault, a list of
`{"field", "rule", "message"}`. Neither ever carries the rejected value: the
records are protected health information (42 CFR Part 2), and pydantic's
errors include the `input`, which is dropped here. BentoML answers its own
errors with the same `error` key; FHIR routes answer an OperationOutcome, as
the FHIR spec requires.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

FieldError = dict[str, str]
Detail = str | list[FieldError]


def error_body(error: str, detail: Detail | None = None) -> dict[str, Any]:
    return {"error": error} if detail is None else {"error": error, "detail": detail}


def error_bytes(error: str, detail: Detail | None = None) -> bytes:
    """The body for raw ASGI middlewares, which answer before any Starlette app."""
    return json.dumps(error_body(error, detail)).encode()


def error_response(status: int, error: str, detail: Detail | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(error, detail), status_code=status, headers=headers)


def field_path(loc: Iterable[Any]) -> str:
    """pydantic's `loc` as one path: courses[0].intake.age_years."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def field_error(e: Mapping[str, Any]) -> FieldError:
    """One pydantic error (as `ValidationError.errors()` or BentoML's 400 lists it), no input."""
    message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
    field = field_path(e.get("loc", ()))
    named = message.split(":", 1)[0]
    if field == "body" and ":" in message and named.isidentifier():
        field = named  # model-level rules ("courses: duplicate course_id") name their field
    return {"field": field, "rule": str(e.get("type", "invalid")), "message": message}


def field_errors(errors: Iterable[Any]) -> list[FieldError]:
    return [field_error(e) for e in errors if isinstance(e, Mapping)]


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's handler for HTTPException in every mounted app (auditor, clinician)."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)
