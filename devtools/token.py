"""Development tokens: `python -m devtools.token token --role clinician` (`make token ROLE=...`).

Signed with the local HS256 secret under var/keys/ (created on first use).
`--role ehr` mints a one-time CDS Hooks token of the dev EHR issuer instead.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

import jwt

from config import get_settings
from serving.auth.keys import dev_keys
from serving.auth.principal import ROLES
from serving.auth.tokens import DEV_USER_ISSUER, issue_dev_token
from serving.cds.auth import DEV_ISSUER


def ehr_token(audience: str, ttl_s: int = 300) -> str:
    """A dev EHR token for one CDS Hooks call (aud = the service URL, single-use jti)."""
    keys = dev_keys(get_settings().jwt_secret_path)
    now = int(time.time())
    claims = {"iss": DEV_ISSUER, "sub": "dev-ehr-client", "aud": audience, "iat": now,
              "exp": now + ttl_s, "jti": uuid.uuid4().hex}
    assert keys.signing_kid is not None
    return jwt.encode(claims, keys.keys[keys.signing_kid], algorithm="HS256",
                      headers={"kid": keys.signing_kid})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devtools.token")
    sub = ap.add_subparsers(dest="command", required=True)
    tok = sub.add_parser("token", help="print a development bearer token")
    tok.add_argument("--role", choices=[*ROLES, "ehr"], default="clinician")
    tok.add_argument("--sub", default=None, help="subject (default dev-<role>)")
    tok.add_argument("--hours", type=float, default=8.0)
    tok.add_argument("--port", type=int, default=3000, help="for --role ehr: the service URL")
    args = ap.parse_args(argv)
    settings = get_settings()
    if args.role == "ehr":
        print(ehr_token(f"http://127.0.0.1:{args.port}/cds-services/relapse-risk"))
        return 0
    try:
        token = issue_dev_token(dev_keys(settings.jwt_secret_path), role=args.role,
                                sub=args.sub or f"dev-{args.role}",
                                audience=settings.jwt_audience,
                                issuer=settings.jwt_issuer or DEV_USER_ISSUER,
                                ttl_s=int(args.hours * 3600))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
