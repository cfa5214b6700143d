"""ASGI middleware: browser security headers on every answer, CSP on every HTML page.

The auditor pages show pseudonymised clinical data to a logged-in browser:
no framing (clickjacking), no MIME sniffing, no Referer leaking event ids to
other sites, scripts only from this origin (BentoML's Swagger page also
carries an inline Google Tag Manager snippet, which this CSP blocks), and
HSTS once the connection is TLS (BentoML's --ssl-* options, or a proxy that
sets X-Forwarded-Proto with uvicorn's proxy headers on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Inline styles are allowed (the auditor pages' one <style> block, Swagger UI's style
# attributes); inline script is not, and nothing here needs it.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
ALWAYS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
          (b"referrer-policy", b"no-referrer")]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.lower().startswith(b"text/html")
               for k, v in headers)


class SecurityHeadersMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = [h for h in ALWAYS if h[0] not in present]
                if _is_html(headers) and b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", CSP.encode()))
                if tls:
                    extra.append(HSTS)
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, sending)
