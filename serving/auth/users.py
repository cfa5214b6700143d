"""The verifier for clinician, auditor and admin tokens, built from the settings."""

from __future__ import annotations

from typing import Any

from config import Settings
from serving.auth.keys import VerificationKeys, load_verification_keys
from serving.auth.principal import Principal
from serving.auth.tokens import verify_bearer


class UserAuthenticator:
    blocking = False  # signature checks only: microseconds, no I/O

    def __init__(self, keys: VerificationKeys, audience: str, issuer: str | None) -> None:
        self.keys = keys
        self.audience = audience
        self.issuer = issuer

    @classmethod
    def from_settings(cls, settings: Settings) -> UserAuthenticator:
        return cls(load_verification_keys(settings), settings.jwt_audience,
                   settings.jwt_issuer or None)

    def __call__(self, scope: dict[str, Any], token: str) -> Principal:
        return verify_bearer(token, self.keys, audience=self.audience, issuer=self.issuer)
