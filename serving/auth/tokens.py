"""Bearer tokens: verify a clinician/auditor/admin JWT into a Principal; mint dev tokens."""

from __future__ import annotations

import time
import uuid

import jwt

from serving.auth.keys import VerificationKeys
from serving.auth.principal import ROLES, Principal

LEEWAY_S = 30  # clock skew tolerated between the identity provider and this service
# `iss` of dev tokens: with the dev secret the issuer is checked too, so a token from
# anywhere else (or one without `iss`) never passes just because nobody set JWT_ISSUER.
DEV_USER_ISSUER = "relapse-risk-dev"


class TokenError(Exception):
    """Why a token was refused; the reason is safe to return (never echoes the token)."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def decode(token: str, keys: VerificationKeys, *, audience: str | list[str],
           issuer: str | None = None, require: tuple[str, ...] = ("exp", "iat", "sub"),
           max_lifetime_s: int | None = None) -> dict:
    """Signature, algorithm, audience, issuer, expiry and lifetime checked; claims returned.

    `max_lifetime_s` caps exp - iat: a stolen token that is valid for a year is a
    credential, not a session.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("malformed token") from None
    if header.get("alg") not in keys.algorithms:
        raise TokenError("token algorithm not accepted")
    try:
        key = keys.key_for(header.get("kid"))
    except KeyError:
        raise TokenError("unknown signing key") from None
    required = [*require, "aud", *(["iss"] if issuer else []),
                *(["iat", "exp"] if max_lifetime_s is not None else [])]
    try:
        claims = jwt.decode(token, key, algorithms=list(keys.algorithms), audience=audience,
                            issuer=issuer or None, leeway=LEEWAY_S,
                            options={"require": list(dict.fromkeys(required))})
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidAudienceError:
        raise TokenError("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise TokenError("wrong issuer") from None
    except jwt.InvalidSignatureError:
        raise TokenError("bad signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"missing claim {exc.claim}") from None
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    if max_lifetime_s is not None and not (
            isinstance(claims["exp"], int | float) and isinstance(claims["iat"], int | float)
            and claims["exp"] - claims["iat"] <= max_lifetime_s):
        raise TokenError(f"token lifetime exceeds {max_lifetime_s} s")
    return claims


def verify_bearer(token: str, keys: VerificationKeys, *, audience: str,
                  issuer: str | None = None) -> Principal:
    return principal_from_claims(decode(token, keys, audience=audience, issuer=issuer))


def principal_from_claims(claims: dict) -> Principal:
    """The caller named by verified claims (role and subject checked)."""
    role = claims.get("role")
    if role not in ROLES:
        raise TokenError("token carries no known role", status=403)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 128:
        raise TokenError("invalid subject")
    jti = claims.get("jti")
    return Principal(sub=sub, role=role, token_id=jti if isinstance(jti, str) else None)


def issue_dev_token(keys: VerificationKeys, *, role: str, sub: str, audience: str,
                    issuer: str = DEV_USER_ISSUER, ttl_s: int = 8 * 3600) -> str:
    """A development token signed with the local HS256 secret (never for production)."""
    if keys.signing_kid is None:
        raise ValueError("dev tokens need the HS256 dev secret (RS256 keys are configured)")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = int(time.time())
    claims = {"sub": sub, "role": role, "aud": audience, "iat": now, "exp": now + ttl_s,
              "jti": uuid.uuid4().hex, "iss": issuer}
    return jwt.encode(claims, keys.keys[keys.signing_kid], algorithm="HS256",
                      headers={"kid": keys.signing_kid})
