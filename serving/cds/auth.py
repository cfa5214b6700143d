"""EHR tokens as the CDS Hooks spec asks: issuer allow-list, audience, expiry, one-time jti."""

from __future__ import annotations

import logging
from typing import Any

import jwt

from config import Settings
from serving.auth.keys import VerificationKeys, dev_keys, load_issuer_keys
from serving.auth.principal import Principal
from serving.auth.tokens import TokenError, decode
from serving.cds.jti import JtiStore

log = logging.getLogger(__name__)
DEV_ISSUER = "dev-ehr"  # only without an issuer allow-list, and only with the dev secret
FEEDBACK_SUFFIX = "/feedback"


def dev_issuer_allowed(settings: Settings) -> bool:
    """The HS256 dev EHR stands in for a real one only on the demo path: never next to an
    issuer allow-list, and never once asymmetric user keys say this is a real deployment
    (where anyone holding the dev secret file could otherwise mint EHR calls)."""
    return (settings.cds_issuers_file is None and settings.jwt_jwks_file is None
            and not settings.jwt_public_keys.strip()
            and settings.app_env.strip().lower() != "production")


class CdsAuthenticator:
    """The caller is the EHR (its `iss`); the route adds the clinician's userId for the audit."""

    blocking = True  # the jti claim is a database write

    def __init__(self, issuers: dict[str, VerificationKeys], jti_store: JtiStore,
                 audiences: list[str], max_lifetime_s: int | None = None) -> None:
        if not audiences:
            raise ValueError("CDS Hooks needs at least one configured audience")
        self.issuers = issuers
        self.jti_store = jti_store
        self.audiences = audiences
        self.max_lifetime_s = max_lifetime_s

    @classmethod
    def from_settings(cls, settings: Settings) -> CdsAuthenticator:
        if settings.cds_issuers_file is not None:
            issuers = load_issuer_keys(settings.cds_issuers_file)
        elif dev_issuer_allowed(settings):
            log.warning("CDS Hooks: DEVELOPMENT issuer %r accepted (HS256 dev secret); set "
                        "CDS_ISSUERS_FILE for real EHRs", DEV_ISSUER)
            issuers = {DEV_ISSUER: dev_keys(settings.jwt_secret_path)}
        else:
            log.warning("CDS Hooks: no CDS_ISSUERS_FILE; every EHR token is refused")
            issuers = {}
        return cls(issuers, JtiStore(settings.cds_url), settings.cds_audiences,
                   settings.jwt_max_lifetime_s)

    def _audiences(self, scope: dict[str, Any]) -> list[str]:
        # From configuration only: the Host header is the caller's to choose, so a token
        # minted for another service with the same path would replay here.
        if scope.get("path", "").endswith(FEEDBACK_SUFFIX):
            return [*self.audiences, *(a + FEEDBACK_SUFFIX for a in self.audiences)]
        return self.audiences

    def __call__(self, scope: dict[str, Any], token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise TokenError("malformed token") from None
        keys = self.issuers.get(issuer) if isinstance(issuer, str) else None
        if keys is None or not isinstance(issuer, str):
            raise TokenError("issuer not allowed")
        claims = decode(token, keys, audience=self._audiences(scope), issuer=issuer,
                        require=("exp", "iat", "jti", "iss"), max_lifetime_s=self.max_lifetime_s)
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise TokenError("invalid jti")
        if not self.jti_store.claim(issuer, jti, int(claims["exp"])):
            raise TokenError("token already used (jti)")
        return Principal(sub=issuer, role="clinician", token_id=jti)
