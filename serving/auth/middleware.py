"""ASGI middleware: every request but health checks and the OpenAPI document needs a bearer JWT.

It wraps the whole app, mounted Starlette apps included, verifies the token
and stores the caller with `set_principal`; routes check roles themselves.
Missing or invalid tokens get 401 with `WWW-Authenticate` (RFC 6750).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from serving.auth.principal import Principal, set_principal
from serving.auth.tokens import TokenError
from serving.errors import error_body

# /metrics is not open: its labels and counts describe who uses the service (scrape token).
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/docs.json", "/"})
OPEN_PREFIXES = ("/static_content/",)  # the Swagger UI that renders /docs.json
OPEN_GET = frozenset({"/cds-services"})  # CDS Hooks discovery: metadata, no patient data
REALM = "relapse-risk"


class Authenticator(Protocol):
    blocking: bool  # True when verifying touches a database (run in a worker thread)

    def __call__(self, scope: dict[str, Any], token: str) -> Principal: ...


@dataclass(frozen=True)
class Authenticators:
    """Which verifier handles which path: an exact path, else the first matching prefix,
    else `default`."""

    default: Authenticator
    by_prefix: Sequence[tuple[str, Authenticator]] = ()
    by_path: Mapping[str, Authenticator] = field(default_factory=dict)

    def for_path(self, path: str) -> Authenticator:
        if path in self.by_path:
            return self.by_path[path]
        for prefix, auth in self.by_prefix:
            if path.startswith(prefix):
                return auth
        return self.default


def is_open(scope: dict[str, Any]) -> bool:
    path = scope.get("path", "")
    return (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
            or (scope.get("method") == "GET" and path in OPEN_GET))


def bearer_token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


async def refuse(send: Callable, status: int, reason: str, *, error: str | None) -> None:
    body = json.dumps(error_body("unauthorized" if status == 401 else "forbidden", reason)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        challenge = f'Bearer realm="{REALM}"'
        if error:  # RFC 6750: no error code when the request carried no token at all
            challenge += f', error="{error}", error_description="{reason}"'
        headers.append((b"www-authenticate", challenge.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Verifies the bearer token of every non-open HTTP request before the app sees it."""

    def __init__(self, app: Any, factory: Callable[[], Authenticators]) -> None:
        self.app = app
        self._factory = factory
        self._auth: Authenticators | None = None  # built in the worker, on first request

    @property
    def authenticators(self) -> Authenticators:
        if self._auth is None:
            self._auth = self._factory()
        return self._auth

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or is_open(scope):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            await refuse(send, 401, "bearer token required", error=None)
            return
        authenticate = self.authenticators.for_path(scope.get("path", ""))
        try:
            if authenticate.blocking:
                principal = await anyio.to_thread.run_sync(authenticate, scope, token)
            else:
                principal = authenticate(scope, token)
        except TokenError as exc:
            await refuse(send, exc.status, exc.reason, error="invalid_token")
            return
        set_principal(scope, principal)
        await self.app(scope, receive, send)
