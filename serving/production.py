"""Production mode: the service refuses to start on any demo fallback, naming each one.

On when APP_ENV=production, or when asymmetric user keys (JWT_JWKS_FILE,
JWT_PUBLIC_KEYS) say this is a real deployment. Never because of a CDS
issuers file alone: the test server trusts one while clinicians use dev tokens.
`make serve` and the tests stay on the demo path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from audit.privileges import excess_privileges
from config import Settings


class ProductionConfigError(RuntimeError):
    """What production mode is missing; the message names every setting at once."""


def production_mode(settings: Settings) -> bool:
    return (settings.app_env.strip().lower() == "production"
            or settings.jwt_jwks_file is not None or bool(settings.jwt_public_keys.strip()))


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def missing_for_production(settings: Settings,
                           privileges: Callable[[str], list[str]] = excess_privileges,
                           ) -> list[str]:
    """Each missing or demo setting, as a sentence naming the variable that fixes it."""
    found = []
    if settings.jwt_jwks_file is None and not settings.jwt_public_keys.strip():
        found.append("JWT_JWKS_FILE or JWT_PUBLIC_KEYS (asymmetric user keys; the dev HS256 "
                     "secret is refused)")
    if not settings.jwt_issuer:
        found.append("JWT_ISSUER (the identity provider's `iss`)")
    if not settings.cds_audience:
        found.append("CDS_AUDIENCE (the URL EHRs call; never taken from the Host header)")
    if settings.cds_issuers_file is None:
        found.append("CDS_ISSUERS_FILE (the EHR issuer allow-list; dev-ehr is refused)")
    if not settings.cds_db_url or settings.cds_url.startswith("sqlite"):
        found.append("CDS_DB_URL on a shared non-SQLite database (the single-use jti table; "
                     "SQLite is per host)")
    audit_sqlite = not settings.audit_db_url or settings.audit_url.startswith("sqlite")
    if audit_sqlite:
        found.append("AUDIT_DB_URL on PostgreSQL (SQLite is the demo store)")
    if settings.audit_checkpoint_dir is None or _inside(settings.checkpoint_path,
                                                        settings.var_dir):
        found.append("AUDIT_CHECKPOINT_DIR outside the service's own var/ (checkpoints must "
                     "live outside the database's and the service's trust domain)")
    if not audit_sqlite:
        found += [f"AUDIT_DB_URL with the INSERT/SELECT-only audit role: {p}"
                  for p in privileges(settings.audit_url)]
    return found


def check_production(settings: Settings) -> None:
    """Raises ProductionConfigError listing everything missing, when in production mode."""
    if not production_mode(settings):
        return
    missing = missing_for_production(settings)
    if missing:
        raise ProductionConfigError("production mode (APP_ENV=production or asymmetric user "
                                    "keys) refuses to start; missing: " + "; ".join(missing))
