"""EHR tokens as the CDS Hooks spec asks: issuer allow-list, audience, expiry, one-time jti."""

from __future__ import annotations

from typing import Any

import jwt

from config import Settings
from serving.auth.keys import VerificationKeys, dev_keys, load_issuer_keys
from serving.auth.principal import Principal
from serving.auth.tokens import TokenError, decode
from serving.cds.jti import JtiStore

DEV_ISSUER = "dev-ehr"  # accepted only when no issuer allow-list is configured


def request_url(scope: dict[str, Any]) -> str:
    headers = dict(scope.get("headers", ()))
    host = headers.get(b"host", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}"


class CdsAuthenticator:
    """The caller is the EHR (its `iss`); the route adds the clinician's userId for the audit."""

    blocking = True  # the jti claim is a database write

    def __init__(self, issuers: dict[str, VerificationKeys], jti_store: JtiStore,
                 audiences: list[str] | None = None) -> None:
        self.issuers = issuers
        self.jti_store = jti_store
        self.audiences = audiences or []

    @classmethod
    def from_settings(cls, settings: Settings) -> CdsAuthenticator:
        if settings.cds_issuers_file is not None:
            issuers = load_issuer_keys(settings.cds_issuers_file)
        else:  # development: the dev HS256 secret stands in for an EHR's key pair
            issuers = {DEV_ISSUER: dev_keys(settings.jwt_secret_path)}
        audiences = [a.strip() for a in settings.cds_audience.split(",") if a.strip()]
        return cls(issuers, JtiStore(settings.cds_url), audiences)

    def _audiences(self, scope: dict[str, Any]) -> list[str]:
        if self.audiences:
            return self.audiences
        url = request_url(scope)
        return [url, url.removesuffix("/feedback")]  # feedback may name the service itself

    def __call__(self, scope: dict[str, Any], token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise TokenError("malformed token") from None
        keys = self.issuers.get(issuer) if isinstance(issuer, str) else None
        if keys is None or not isinstance(issuer, str):
            raise TokenError("issuer not allowed")
        claims = decode(token, keys, audience=self._audiences(scope), issuer=issuer,
                        require=("exp", "iat", "jti", "iss"))
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise TokenError("invalid jti")
        if not self.jti_store.claim(issuer, jti, int(claims["exp"])):
            raise TokenError("token already used (jti)")
        return Principal(sub=issuer, role="clinician", token_id=jti)
