"""The verifier for clinician, auditor and admin tokens, built from the settings."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from config import Settings
from serving.auth.keys import VerificationKeys, load_verification_keys
from serving.auth.principal import Principal
from serving.auth.tokens import (
    DEV_USER_ISSUER,
    LEEWAY_S,
    TokenError,
    decode,
    principal_from_claims,
)

# Verified tokens remembered per worker: a client sends the same bearer token with every
# request, and PyJWT's checks (base64 validation in Python, HMAC/RSA) cost ~0.1 ms each
# time. Only tokens that passed every check are kept (a refused token raises, and
# lru_cache keeps no exceptions); expiry is re-checked on every use.
VERIFIED_CACHE_SIZE = 4096


class UserAuthenticator:
    blocking = False  # signature checks only: microseconds, no I/O

    def __init__(self, keys: VerificationKeys, audience: str, issuer: str | None,
                 max_lifetime_s: int | None = None) -> None:
        self.keys = keys
        self.audience = audience
        self.issuer = issuer
        self.max_lifetime_s = max_lifetime_s
        self._verified = lru_cache(maxsize=VERIFIED_CACHE_SIZE)(self._verify)

    @classmethod
    def from_settings(cls, settings: Settings) -> UserAuthenticator:
        # iss is always checked: JWT_ISSUER, else the dev tokens' issuer (production mode
        # refuses to start without JWT_ISSUER, serving/startup.py).
        return cls(load_verification_keys(settings), settings.jwt_audience,
                   settings.jwt_issuer or DEV_USER_ISSUER, settings.jwt_max_lifetime_s)

    def _verify(self, token: str) -> tuple[Principal, float]:
        claims = decode(token, self.keys, audience=self.audience, issuer=self.issuer,
                        max_lifetime_s=self.max_lifetime_s)
        return principal_from_claims(claims), float(claims["exp"])

    def __call__(self, scope: dict[str, Any], token: str) -> Principal:
        principal, exp = self._verified(token)
        if exp <= time.time() - LEEWAY_S:  # PyJWT's own expiry rule, leeway included
            raise TokenError("token expired")
        return principal
