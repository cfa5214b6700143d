"""ASGI middleware: a JSON route's POST must say it is JSON (415 otherwise).

Browsers send `text/plain`, form and multipart bodies cross-origin without a
CORS preflight; requiring a JSON media type means a page on another origin
cannot make a logged-in browser post to these routes, and every parser sees
the kind of body it was written for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

JSON = frozenset({"application/json"})
FHIR_JSON = frozenset({"application/fhir+json", "application/json"})


def media_type(scope: Mapping[str, Any]) -> str:
    """The request's media type, lower-cased, parameters (charset) dropped; '' if absent."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


class ContentTypeMiddleware:
    """415 for a POST to one of `accepted`'s paths whose Content-Type is not listed there."""

    def __init__(self, app: Any, accepted: Mapping[str, Collection[str]]) -> None:
        self.app = app
        self.accepted = dict(accepted)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        allowed = self.accepted.get(scope.get("path", "")) if scope["type"] == "http" else None
        if allowed is None or scope.get("method") != "POST" or media_type(scope) in allowed:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "unsupported media type",
                           "detail": f"Content-Type must be one of {', '.join(sorted(allowed))}"
                           }).encode()
        await send({"type": "http.response.start", "status": 415,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
