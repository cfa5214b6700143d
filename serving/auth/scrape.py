"""The Prometheus scrape token: a long random secret in a file, accepted on GET /metrics only.

A scraper should not hold an admin JWT (which could reload models); it gets
its own token (Prometheus: `authorization: {credentials_file: ...}`), compared
in constant time. Admin JWTs are accepted on /metrics as well.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from serving.auth.keys import KeyConfigError
from serving.auth.middleware import Authenticator
from serving.auth.principal import Principal

MIN_TOKEN_CHARS = 32
SCRAPER = Principal(sub="metrics-scraper", role="metrics")


def read_scrape_token(path: Path) -> bytes:
    """sha256 of the token in `path` (one line); refused when too short to be a secret."""
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise KeyConfigError(f"metrics token file {path} unreadable ({type(exc).__name__})"
                             ) from None
    if len(token) < MIN_TOKEN_CHARS:
        raise KeyConfigError(f"metrics token in {path} is shorter than {MIN_TOKEN_CHARS} "
                             "characters")
    return hashlib.sha256(token.encode()).digest()


class ScrapeTokenAuthenticator:
    """The scrape token -> the `metrics` role; any other token goes to `fallback`."""

    def __init__(self, digest: bytes | None, fallback: Authenticator) -> None:
        self.digest = digest
        self.fallback = fallback
        self.blocking = fallback.blocking

    def __call__(self, scope: dict[str, Any], token: str) -> Principal:
        offered = hashlib.sha256(token.encode()).digest()
        if self.digest is not None and hmac.compare_digest(offered, self.digest):
            return SCRAPER
        return self.fallback(scope, token)
