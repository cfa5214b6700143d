"""Verification keys for bearer tokens: dev HS256 secret, or RS256 PEM files / a JWKS.

Development: one HS256 secret generated under var/keys/ on first use (mode
0600, key id per line so it can be rotated like the audit keys). Production:
naming RS256 public keys or a JWKS file in the settings switches the dev secret
off, so a token can never be HMAC-signed with a public key (algorithm confusion).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from audit.chain import KeyRing
from config import Settings


class KeyConfigError(RuntimeError):
    """The configured verification keys cannot be read."""


@dataclass(frozen=True)
class VerificationKeys:
    """Keys by key id (`kid`), all of one family: HS256 (dev) or RS256."""

    algorithms: tuple[str, ...]
    keys: Mapping[str, Any] = field(repr=False)
    signing_kid: str | None = None  # dev only: the current HS256 key signs `make token`

    def key_for(self, kid: str | None) -> Any:
        """The key a token names; a token without kid is accepted only with a single key."""
        if kid is None:
            if len(self.keys) == 1:
                return next(iter(self.keys.values()))
            raise KeyError("token names no key id")
        return self.keys[kid]


def dev_keys(path: Path) -> VerificationKeys:
    ring = KeyRing.load_or_create(path)
    return VerificationKeys(("HS256",), dict(ring.keys), ring.current_id)


def jwks_keys(path: Path, algorithms: tuple[str, ...] = ("RS256",)) -> VerificationKeys:
    try:
        jwks = jwt.PyJWKSet.from_json(path.read_text())
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise KeyConfigError(f"JWKS file {path} unreadable ({type(exc).__name__})") from None
    keys = {k.key_id or f"key-{i}": k.key for i, k in enumerate(jwks.keys)}
    return VerificationKeys(algorithms, keys)


def pem_keys(paths: list[Path]) -> VerificationKeys:
    keys = {}
    for path in paths:
        try:
            keys[path.stem] = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise KeyConfigError(f"public key {path} unreadable ({type(exc).__name__})") from None
    return VerificationKeys(("RS256",), keys)


def load_verification_keys(settings: Settings) -> VerificationKeys:
    """RS256 keys when configured (production), otherwise the dev HS256 secret."""
    pems = [Path(p.strip()) for p in settings.jwt_public_keys.split(",") if p.strip()]
    if settings.jwt_jwks_file is not None:
        found = jwks_keys(settings.jwt_jwks_file)
        if pems:
            found = VerificationKeys(found.algorithms, {**found.keys, **pem_keys(pems).keys})
        return found
    if pems:
        return pem_keys(pems)
    if settings.app_env.strip().lower() == "production":  # never the dev secret there
        raise KeyConfigError("APP_ENV=production needs JWT_JWKS_FILE or JWT_PUBLIC_KEYS")
    return dev_keys(settings.jwt_secret_path)


def load_issuer_keys(path: Path) -> dict[str, VerificationKeys]:
    """CDS Hooks issuer allow-list: {issuer: {"jwks_file": path}} -> keys per issuer."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyConfigError(f"issuer file {path} unreadable ({type(exc).__name__})") from None
    issuers = {}
    for issuer, entry in config.items():
        jwks = Path(entry["jwks_file"])
        jwks = jwks if jwks.is_absolute() else path.parent / jwks
        # CDS Hooks requires asymmetric signatures (RS384/ES384 recommended).
        issuers[issuer] = jwks_keys(jwks, ("RS256", "RS384", "ES256", "ES384"))
    return issuers
