"""Prefetch template, and the resources of a hook call (prefetched, else read from fhirServer)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import httpx

from serving.cds.fhir_fetch import FetchRefused, FhirReader, allowed_base, fill

PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "episodes": "EpisodeOfCare?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medications": "MedicationAdministration?patient={{context.patientId}}",
    "encounters": "Encounter?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}


class PrefetchMissing(Exception):
    """Needed data neither prefetched nor readable from the FHIR server (answer 412)."""


def _fetched(missing: list[str], patient_id: str, fhir_server: str, access_token: str | None,
             fhir_hosts: Collection[str], transport: httpx.BaseTransport | None,
             ) -> dict[str, Any]:
    try:
        reader = FhirReader(allowed_base(fhir_server, fhir_hosts), access_token,
                            transport=transport)
    except FetchRefused as exc:
        raise PrefetchMissing(f"prefetch missing and {exc}") from None
    try:
        return {key: reader.get(fill(PREFETCH[key], patient_id)) for key in missing}
    except FetchRefused as exc:
        raise PrefetchMissing(f"prefetch missing and {exc}") from None
    finally:
        reader.close()


def gather(prefetch: dict[str, Any] | None, patient_id: str, fhir_server: str | None,
           access_token: str | None, fhir_hosts: Collection[str] = (),
           transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """A collection Bundle of every prefetched (or fetched) resource, without duplicates.

    `fhir_hosts`: the hosts the calling issuer's FHIR server may be on (issuers file).
    """
    prefetch = prefetch or {}
    missing = [key for key in PREFETCH if key not in prefetch]
    if missing and not fhir_server:
        raise PrefetchMissing(f"prefetch {missing[0]} missing and no fhirServer given")
    fetched = (_fetched(missing, patient_id, fhir_server, access_token, fhir_hosts, transport)
               if missing and fhir_server else {})
    values = [prefetch[key] if key in prefetch else fetched[key] for key in PREFETCH]
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
