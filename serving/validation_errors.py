"""ASGI middleware: BentoML's 400 for a request that fails validation becomes a 422 per field.

BentoML already drops the rejected input from pydantic errors; this keeps
only field path, rule and message, so no patient value can be echoed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from serving.errors import error_body, field_errors


def to_422(detail: list[dict[str, Any]]) -> dict[str, Any]:
    errors = field_errors(detail)
    return error_body(f"{len(errors)} invalid field(s)", errors)


class ValidationErrorMiddleware:
    """Rewrites 400 answers carrying pydantic `detail` on the given API paths."""

    def __init__(self, app: Any, paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:
                held.update(message)
                return
            if held and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await _rewrite(send, held, b"".join(chunks))
                return
            await send(message)

        await self.app(scope, receive, wrapped)


async def _rewrite(send: Callable, start: dict[str, Any], body: bytes) -> None:
    status = 400
    try:
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("detail"), list):
            answer = to_422(data["detail"])
            # a body that is not JSON at all stays a 400; JSON that breaks field rules is a 422
            malformed = all(e["rule"] == "json_invalid" for e in answer["detail"])
            body, status = json.dumps(answer).encode(), 400 if malformed else 422
    except ValueError:
        pass  # not a validation error: pass the 400 on unchanged
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
