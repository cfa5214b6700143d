"""Checks before the service opens anything: secret file modes, then loud demo fallbacks.

Development fallbacks (a generated HS256 secret, the dev EHR issuer, SQLite
under var/) keep `make serve` one command; each one is logged as a WARNING at
start so nobody runs them in production by accident. Production mode
(`serving/production.py`) refuses them instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

from config import Settings
from config.files import check_secret_file
from serving.cds.auth import dev_issuer_allowed
from serving.production import check_production, production_mode

log = logging.getLogger("relapse_risk.startup")


def uses_dev_user_keys(settings: Settings) -> bool:
    return settings.jwt_jwks_file is None and not settings.jwt_public_keys.strip()


def secret_files(settings: Settings) -> list[Path]:
    """Files whose contents are secrets (public PEM and JWKS files are not)."""
    files = [settings.audit_key_path, settings.patient_key_path, settings.audit_signing_key_path]
    if uses_dev_user_keys(settings):
        files.append(settings.jwt_secret_path)
    if settings.metrics_token_file is not None:
        files.append(settings.metrics_token_file)
    return files


def demo_fallbacks(settings: Settings) -> list[str]:
    """Each development fallback in use, in words."""
    found = []
    if uses_dev_user_keys(settings):
        found.append("bearer tokens are checked against the generated HS256 dev secret "
                     f"({settings.jwt_secret_path}); set JWT_JWKS_FILE or JWT_PUBLIC_KEYS")
    if not settings.jwt_issuer:
        found.append("JWT_ISSUER is unset: only the dev tokens' issuer is accepted")
    if dev_issuer_allowed(settings):
        found.append("CDS Hooks accepts the dev EHR issuer 'dev-ehr' (HS256 dev secret); "
                     "set CDS_ISSUERS_FILE")
    if not settings.cds_audience:
        found.append(f"CDS_AUDIENCE is unset: EHR tokens must name {settings.cds_audiences[0]}")
    if settings.cds_url.startswith("sqlite"):
        found.append("the CDS Hooks jti table is SQLite on this host: each replica accepts "
                     "a replayed EHR token once; set CDS_DB_URL to a shared database")
    if settings.audit_url.startswith("sqlite"):
        found.append("the audit store is SQLite; set AUDIT_DB_URL")
    return found


def startup_checks(settings: Settings) -> None:
    """Raises SecretFileError for a secret others can read; in production mode
    ProductionConfigError for any demo fallback, else a warning for each."""
    for path in secret_files(settings):
        check_secret_file(path)
    if production_mode(settings):
        check_production(settings)
        log.info("production mode: every production setting is present")
        return
    for fallback in demo_fallbacks(settings):
        log.warning("DEMO FALLBACK: %s", fallback)
