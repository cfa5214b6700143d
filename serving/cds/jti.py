"""Used JWT ids of EHR tokens, in one database shared by every worker (replay protection)."""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, delete, insert
from sqlalchemy.exc import IntegrityError

from config.files import private_sqlite

metadata = MetaData()
used_jti = Table(
    "cds_used_jti", metadata,
    Column("jti_hash", String(64), primary_key=True),  # sha256(issuer, jti): no raw ids stored
    Column("expires_at", BigInteger, nullable=False, index=True),
)
PRUNE_EVERY = 200


class JtiStore:
    """`claim` succeeds once per (issuer, jti); rows are pruned after the token expired."""

    def __init__(self, url: str) -> None:
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        private_sqlite(url)  # 0600: not the umask's world-readable default
        self.engine = create_engine(url, **kwargs)
        metadata.create_all(self.engine)
        self._claims = 0

    def claim(self, issuer: str, jti: str, expires_at: int) -> bool:
        digest = hashlib.sha256(f"{issuer}\0{jti}".encode()).hexdigest()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(used_jti).values(jti_hash=digest, expires_at=expires_at))
        except IntegrityError:
            return False
        self._claims += 1
        if self._claims % PRUNE_EVERY == 0:
            self.prune()
        return True

    def prune(self, now: float | None = None) -> None:
        # Kept a day past expiry so a token replayed within the clock leeway still fails.
        cutoff = int(now if now is not None else time.time()) - 86400
        with self.engine.begin() as conn:
            conn.execute(delete(used_jti).where(used_jti.c.expires_at < cutoff))
