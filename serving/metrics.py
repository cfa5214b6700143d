"""Request metrics labelled by route template, and the authenticated GET /metrics.

BentoML's own metrics middleware sits outside ours and labels every request
with its raw path, 401s included: 300 unauthenticated requests to made-up
paths added 6,000 lines to /metrics (memory without bound) and the labels
showed which `/audit/events/<id>` pages auditors opened. It is switched off
(`metrics={"enabled": False}` on the service); this middleware counts instead,
with a bounded label set: the route template (`/audit/events/{event_id}`) or
one label, `unmatched`, for every path no route serves; known methods or
`OTHER`; the status code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, compile_path

from serving.auth.guard import require_role

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# BentoML's own routes (not in our Starlette apps): health, OpenAPI, the Swagger page.
BENTOML_ROUTES = ("/", "/healthz", "/livez", "/readyz", "/docs.json",
                  "/static_content/{file:path}")


def templates_of(routes: Iterable[Any], prefix: str = "") -> list[str]:
    """Every path template of Starlette routes, mounted apps followed."""
    out: list[str] = []
    for route in routes:
        if isinstance(route, Mount):
            out += templates_of(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            out.append(prefix + route.path)
    return out


def service_templates(apps: Iterable[Starlette], api_paths: Iterable[str]) -> list[str]:
    """The templates the service answers: BentoML's routes, its @api paths, mounted apps."""
    found = [*BENTOML_ROUTES, *api_paths]
    for app in apps:
        found += templates_of(app.routes)
    return list(dict.fromkeys(found))


class RouteLabels:
    """Path -> its route template; every other path -> UNMATCHED."""

    def __init__(self, templates: Sequence[str]) -> None:
        self.exact = {t for t in templates if "{" not in t}
        self.patterns = [(compile_path(t)[0], t) for t in templates if "{" in t]

    def __call__(self, path: str) -> str:
        if path in self.exact:
            return path
        for pattern, template in self.patterns:
            if pattern.match(path):
                return template
        return UNMATCHED


@cache
def _instruments() -> tuple[Any, Any]:
    """Created once per worker process, through BentoML's client (Prometheus multiprocess
    mode across workers, as its own metrics were)."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    client = BentoMLContainer.metrics_client.get()
    requests = client.Counter(name="relapse_risk_http_requests_total",
                              documentation="HTTP requests by route template, method, status",
                              labelnames=["route", "method", "status"])
    seconds = client.Histogram(name="relapse_risk_http_request_duration_seconds",
                               documentation="HTTP request duration by route template",
                               labelnames=["route", "method"])
    return requests, seconds


@cache
def _series(route: str, method: str, status: str) -> tuple[Any, Any]:
    """The counter and histogram children of one label set, made once per worker:
    `labels()` takes a lock and checks the label values on every call. The label sets are
    bounded (route templates, METHODS and OTHER, status codes), so this cache is too."""
    requests, seconds = _instruments()
    return requests.labels(route, method, status), seconds.labels(route, method)


def exposition() -> tuple[bytes, str]:
    from bentoml._internal.configuration.containers import BentoMLContainer

    client = BentoMLContainer.metrics_client.get()
    return client.generate_latest(), client.CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Outermost of ours, so refused requests (401, 413, 415) are counted too."""

    def __init__(self, app: Any, templates: Sequence[str]) -> None:
        self.app = app
        self.label = RouteLabels(templates)

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if the app raises before answering
        started = time.perf_counter()

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self.label(scope.get("path", ""))
            method = scope.get("method", "") if scope.get("method") in METHODS else "OTHER"
            count, duration = _series(route, method, str(status))
            count.inc()
            duration.observe(time.perf_counter() - started)


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition; an admin token or the scrape token (role `metrics`)."""
    require_role(request, "admin", "metrics")
    body, content_type = await anyio.to_thread.run_sync(exposition)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


ROUTES = [Route("/metrics", metrics_endpoint, methods=["GET"])]
