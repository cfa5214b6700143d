"""The batch-job chain of the audit store: one HMAC-chained event per scoring job.

The table comes from migration 0003 (`audit_jobs`), applied by AuditStore
like every migration. Rows are chained exactly like the store's own chains
(same key ring, same canonical JSON, `chain_message` with chain name
"batch_job") so one verifier design covers them; writers serialise the same
way (SQLite BEGIN IMMEDIATE via the store's write option, PostgreSQL an
advisory lock). Nothing here updates or deletes a row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, select, text
from sqlalchemy.exc import SQLAlchemyError

from serving.audit import AuditStore, AuditWriteError, canonical_json
from serving.audit.chain import hmac_hex
from serving.audit.events import GENESIS_HASH, chain_message, format_ts, normalise_ts

JOB_CHAIN = "batch_job"
_CONTENT = ("event_id", "ts", "job_id", "caller_sub", "caller_role", "details")

jobs_table = Table(
    "audit_jobs", MetaData(),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String), Column("ts", DateTime(timezone=True)),
    *(Column(n, Text) for n in ("job_id", "caller_sub", "caller_role", "details", "key_id",
                                "prev_hash", "hash")),
)


@dataclass(frozen=True)
class JobVerify:
    rows_verified: int
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def _content(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {name: row[name] for name in _CONTENT}
    ts = out["ts"]
    out["ts"] = format_ts(ts) if isinstance(ts, datetime) else str(ts)
    if isinstance(out["details"], str):
        out["details"] = json.loads(out["details"])
    return out


def append_job_event(store: AuditStore, *, job_id: str, caller_sub: str, caller_role: str,
                     details: Mapping[str, Any]) -> dict[str, Any]:
    """Write one job event durably, chained after the previous one; returns the stored row."""
    row: dict[str, Any] = {"event_id": uuid.uuid4().hex, "ts": normalise_ts(datetime.now(UTC)),
                           "job_id": job_id, "caller_sub": caller_sub,
                           "caller_role": caller_role, "details": canonical_json(dict(details))}
    key_id, key = store.audit_keys.current_id, store.audit_keys.current
    try:
        with store.engine.connect().execution_options(audit_write=True) as conn, conn.begin():
            if store.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :c))"),
                             {"c": f"/audit-chain/{JOB_CHAIN}"})
            head = conn.execute(select(jobs_table.c.seq, jobs_table.c.hash)
                                .order_by(jobs_table.c.seq.desc()).limit(1)).first()
            seq, prev = (1, GENESIS_HASH) if head is None else (int(head[0]) + 1, str(head[1]))
            digest = hmac_hex(key, chain_message(JOB_CHAIN, seq, key_id, prev,  # type: ignore[arg-type]
                                                 _content(row)))
            row.update(seq=seq, key_id=key_id, prev_hash=prev, hash=digest)
            conn.execute(jobs_table.insert(), [row])
    except SQLAlchemyError as exc:
        raise AuditWriteError(f"batch job event not written: {type(exc).__name__}") from None
    return row


def list_jobs(store: AuditStore, limit: int = 100) -> list[dict[str, Any]]:
    """Job events, newest first, details parsed."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(jobs_table).order_by(jobs_table.c.seq.desc())
                            .limit(limit)).mappings().all()
    return [{**r, "details": json.loads(r["details"])} for r in rows]


def verify_jobs(store: AuditStore) -> JobVerify:
    """Walk the job chain: seq without gaps, links intact, each HMAC matches its row."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(jobs_table).order_by(jobs_table.c.seq)).mappings().all()
    prev, n = GENESIS_HASH, 0
    for row in rows:
        seq = int(row["seq"])
        key = store.audit_keys.get(str(row["key_id"]))
        if seq != n + 1:
            return JobVerify(n, seq, f"sequence gap: expected seq {n + 1}")
        if row["prev_hash"] != prev:
            return JobVerify(n, seq, "previous-hash link broken")
        if key is None:
            return JobVerify(n, seq, "row names an unknown key id")
        message = chain_message(JOB_CHAIN, seq, str(row["key_id"]), prev,  # type: ignore[arg-type]
                                _content(row))
        if hmac_hex(key, message) != row["hash"]:
            return JobVerify(n, seq, "hash mismatch: row content or hash was altered")
        prev, n = str(row["hash"]), n + 1
    return JobVerify(n)
