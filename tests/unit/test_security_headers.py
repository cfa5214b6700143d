"""Security headers: HSTS only over TLS, CSP on HTML only, the app's own values kept."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.security_headers import SecurityHeadersMiddleware


def client(base_url: str) -> TestClient:
    app = Starlette(routes=[
        Route("/page", lambda r: HTMLResponse("<p>x</p>")),
        Route("/json", lambda r: JSONResponse({})),
        Route("/framed", lambda r: HTMLResponse("", headers={"X-Frame-Options": "SAMEORIGIN"}))])
    return TestClient(SecurityHeadersMiddleware(app), base_url=base_url)


def test_hsts_over_tls_only():
    assert "strict-transport-security" in client("https://risk.example").get("/page").headers
    assert "strict-transport-security" not in client("http://risk.example").get("/page").headers


def test_csp_on_html_and_the_rest_everywhere():
    c = client("http://risk.example")
    page, data = c.get("/page").headers, c.get("/json").headers
    assert "script-src 'self'" in page["content-security-policy"]
    assert "content-security-policy" not in data
    for headers in (page, data):
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    assert c.get("/framed").headers.get_list("x-frame-options") == ["SAMEORIGIN"]
