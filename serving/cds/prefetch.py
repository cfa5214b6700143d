"""Prefetch template, and the resources of a hook call (prefetched, else read from fhirServer)."""

from __future__ import annotations

from typing import Any

import httpx

PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "episodes": "EpisodeOfCare?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medications": "MedicationAdministration?patient={{context.patientId}}",
    "encounters": "Encounter?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}
FETCH_TIMEOUT_S = 5.0


class PrefetchMissing(Exception):
    """Needed data neither prefetched nor readable from the FHIR server (answer 412)."""


def _fetch(server: str, query: str, token: str | None) -> Any:
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        r = httpx.get(f"{server.rstrip('/')}/{query}", headers=headers, timeout=FETCH_TIMEOUT_S,
                      follow_redirects=False)
        r.raise_for_status()
        return r.json()
    except (httpx.HTTPError, ValueError):
        raise PrefetchMissing("prefetch missing and the FHIR server could not be read") from None


def gather(prefetch: dict[str, Any] | None, patient_id: str, fhir_server: str | None,
           access_token: str | None) -> dict[str, Any]:
    """A collection Bundle of every prefetched (or fetched) resource, without duplicates."""
    prefetch = prefetch or {}
    values = []
    for key, template in PREFETCH.items():
        if key in prefetch:
            values.append(prefetch[key])
        elif fhir_server:
            values.append(_fetch(fhir_server, template.replace("{{context.patientId}}",
                                                               patient_id), access_token))
        else:
            raise PrefetchMissing(f"prefetch {key} missing and no fhirServer given")
    entries, seen = [], set()
    for value in values:
        items = ([e for e in value.get("entry") or [] if isinstance(e, dict)]
                 if isinstance(value, dict) and value.get("resourceType") == "Bundle"
                 else [{"resource": value}] if isinstance(value, dict) else [])
        for item in items:
            resource = item.get("resource")
            if not isinstance(resource, dict):
                continue
            identity = ((resource.get("resourceType"), resource.get("id"))
                        if resource.get("id") else id(resource))
            if identity in seen:
                continue
            seen.add(identity)
            entries.append({k: v for k, v in item.items() if k in ("fullUrl", "resource")})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
