"""Reading the EHR's FHIR server when prefetch is incomplete, without becoming its proxy.

`fhirServer` comes from the request body and the access token is the EHR's:
fetched blindly it made this service reach any URL (SSRF) carrying a real
token. So: https only; the host must be allow-listed for the token's issuer in
the issuers file (`"fhir_hosts": ["fhir.ehr.example"]`); no redirects (the
token would follow them); 5 s per fetch; a size cap per answer; one time budget
for every fetch of a hook call; and every value placed in the URL encoded, so a
patientId cannot add path segments or query parameters to the EHR's server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

FETCH_TIMEOUT_S = 5.0
BUDGET_S = 10.0  # all fetches of one hook call together
MAX_ANSWER_BYTES = 4 * 1024 * 1024
PLACEHOLDER = "{{context.patientId}}"


class FetchRefused(Exception):
    """The FHIR server may not or could not be read; the message is safe to return."""


def allowed_base(server: str, hosts: Collection[str]) -> str:
    """`server` if it is https on an allow-listed host ("host" for 443, else "host:port")."""
    try:
        parts = urlsplit(server)
        port = parts.port
    except ValueError:
        raise FetchRefused("fhirServer is not a valid URL") from None
    if parts.scheme != "https":
        raise FetchRefused("fhirServer must be https")
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or parts.query or parts.fragment or not host:
        raise FetchRefused("fhirServer must be a plain https base URL")
    # An entry without a port allows 443 only; another port must be listed as host:port.
    if (host if port in (None, 443) else f"{host}:{port}") not in {h.lower() for h in hosts}:
        raise FetchRefused("fhirServer is not allow-listed for this issuer")
    return server.rstrip("/")


def fill(template: str, patient_id: str) -> str:
    """A prefetch template with the patient id percent-encoded (no '/', '?', '&' or '#'
    survives), in the path and in the query alike."""
    return template.replace(PLACEHOLDER, quote(patient_id, safe=""))


class FhirReader:
    """Fetches for one hook call, sharing its time budget."""

    def __init__(self, base: str, token: str | None, *, budget_s: float = BUDGET_S,
                 max_bytes: int = MAX_ANSWER_BYTES,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base = base
        self.headers = {"Accept": "application/fhir+json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.deadline = time.monotonic() + budget_s
        self.max_bytes = max_bytes
        self.client = httpx.Client(follow_redirects=False, transport=transport, trust_env=False)

    def get(self, query: str) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FetchRefused("the FHIR server did not answer within the time budget")
        try:
            with self.client.stream("GET", f"{self.base}/{query}", headers=self.headers,
                                    timeout=min(FETCH_TIMEOUT_S, remaining)) as r:
                if r.status_code != 200:
                    raise FetchRefused(f"the FHIR server answered {r.status_code}")
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise FetchRefused("the FHIR server's answer is too large")
                    if time.monotonic() > self.deadline:  # a server trickling bytes
                        raise FetchRefused("the FHIR server did not answer within the "
                                           "time budget")
            return json.loads(body)
        except httpx.HTTPError:
            raise FetchRefused("the FHIR server could not be read") from None
        except (ValueError, RecursionError):
            raise FetchRefused("the FHIR server's answer is not JSON") from None

    def close(self) -> None:
        self.client.close()
