"""Card feedback (accepted / overridden), kept next to the used-jti table.

Free-text `userComment` is never stored: it may hold patient details.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)

from config.files import private_sqlite

metadata = MetaData()
feedback = Table(
    "cds_feedback", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("issuer", String(200), nullable=False),
    Column("card_uuid", String(36), nullable=False, index=True),  # = the prediction request id
    Column("outcome", String(16), nullable=False),
    Column("override_reason", String(64)),
    Column("outcome_timestamp", String(40)),
)


class FeedbackStore:
    def __init__(self, url: str) -> None:
        private_sqlite(url)  # 0600: not the umask's world-readable default
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, **kwargs)
        metadata.create_all(self.engine)

    def record(self, issuer: str, card_uuid: str, outcome: str, override_reason: str | None,
               outcome_timestamp: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(feedback).values(
                received_at=dt.datetime.now(dt.UTC), issuer=issuer[:200], card_uuid=card_uuid,
                outcome=outcome, override_reason=override_reason, outcome_timestamp=outcome_timestamp))

    def for_card(self, card_uuid: str) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback).where(feedback.c.card_uuid == card_uuid))
            return [dict(r._mapping) for r in rows]
