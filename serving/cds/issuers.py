"""Per-issuer entries of the CDS Hooks issuers file besides the keys: FHIR server hosts.

    {"https://ehr.example": {"jwks_file": "ehr-jwks.json",
                             "fhir_hosts": ["fhir.ehr.example", "fhir.ehr.example:8443"]}}

An issuer without `fhir_hosts` (and the dev issuer) gets no FHIR reads: its
hook calls must carry complete prefetch.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from serving.auth.keys import KeyConfigError


def fhir_hosts_by_issuer(path: Path) -> dict[str, frozenset[str]]:
    try:
        config = json.loads(path.read_text())
        return {issuer: frozenset(str(h).lower() for h in entry.get("fhir_hosts") or [])
                for issuer, entry in config.items()}
    except (OSError, ValueError, AttributeError) as exc:
        raise KeyConfigError(f"issuer file {path} unreadable ({type(exc).__name__})") from None


@lru_cache(maxsize=1)
def configured_fhir_hosts() -> dict[str, frozenset[str]]:
    from config import get_settings

    path = get_settings().cds_issuers_file
    return {} if path is None else fhir_hosts_by_issuer(path)


def fhir_hosts_for(issuer: str) -> frozenset[str]:
    return configured_fhir_hosts().get(issuer, frozenset())
