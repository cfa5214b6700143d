"""The audit store: the one writer of every chain, and the auditor queries.

Four chains live side by side: `audit_events` (served predictions),
`audit_access` (auditor reads), `audit_outcomes` (observed outcomes) and
`audit_jobs` (batch scoring jobs). Each has its own gap-free `seq` and HMAC
chain; checkpoints name the chain they cover. Writers serialise per chain
(SQLite: BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock) and read the
previous hash inside the same transaction, so concurrent processes extend one
chain. Nothing here updates or deletes a row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from audit.chain import (
    Checkpoint,
    CheckpointLog,
    KeyRing,
    Surrogates,
    default_paths,
    hmac_hex,
    sign_checkpoint,
)
from audit.database import (
    AuditError,
    AuditWriteError,
    describe,
    dialect_of,
    make_engine,
    migrate,
    read_store_id,
    safe_url,
)
from audit.events import (
    ACCESS_CHAIN,
    GENESIS_HASH,
    JOB_CHAIN,
    JSON_COLUMNS,
    OUTCOME_CHAIN,
    PREDICTION_CHAIN,
    AccessEvent,
    AuditEvent,
    ChainName,
    EventSummary,
    JobEvent,
    OutcomeEvent,
    PredictionEvent,
    StoredAccess,
    StoredJob,
    StoredOutcome,
    StoredPrediction,
    chain_message_text,
    content_text,
    normalise_ts,
    row_from_event,
)
from audit.group_commit import GroupCommit
from audit.tables import (
    CHAINS,
    HEAD_SQL,
    TABLES,
    access_table,
    events_table,
    jobs_table,
    outcomes_table,
)
from audit.verify import VerifyReport, verify_store
from config.files import private_sqlite

__all__ = ["AuditError", "AuditStore", "AuditWriteError"]

log = logging.getLogger(__name__)

MAX_PAGE = 1000


def _link(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ("seq", "key_id", "prev_hash", "hash")}


def _prepare(chain: ChainName, event: AuditEvent) -> tuple[dict[str, Any], str]:
    """Column values and the canonical text of the hashed content, taken from the row
    (what the verifier reads back), so what is hashed is exactly what the database holds."""
    row = row_from_event(chain, event)
    return row, content_text(chain, row)


class AuditStore:
    """Append-only, HMAC-chained audit log: predictions, auditor reads, outcomes, batch jobs."""

    def __init__(
        self,
        url: str | None = None,
        *,
        audit_keys: KeyRing | None = None,
        patient_keys: KeyRing | None = None,
        checkpoint_dir: Path | None = None,
        checkpoint_every: int = 100,
        read_only: bool = False,
    ) -> None:
        """Open (and on first use create) the store.

        Defaults: URL from `config.get_settings().audit_url`; key files and
        checkpoint folder from `chain.default_paths()` (env, else var/).
        `read_only` skips migrations and genesis checkpoint (used by verify).
        """
        if url is None:
            from config import get_settings

            url = get_settings().audit_url
        paths = default_paths()
        self.url = url
        self.read_only = read_only
        self.checkpoint_every = max(1, checkpoint_every)
        self.audit_keys = audit_keys or self._load_audit_keys(paths.audit_key_file, read_only)
        self._patient_keys = patient_keys
        self._patient_key_file = paths.patient_key_file
        self.checkpoint_dir = Path(checkpoint_dir or paths.checkpoint_dir)
        if not read_only:
            private_sqlite(url)  # 0600 before SQLite creates it with the umask's mode
        self.engine = make_engine(url)
        self.dialect = dialect_of(self.engine)
        try:
            created = False if read_only else self._migrate()
            self.store_id = read_store_id(self.engine, url)
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise AuditError(f"cannot open audit store at {safe_url(url)}: "
                             f"{describe(exc)}") from None
        self.checkpoints = CheckpointLog(self.checkpoint_dir, self.store_id)
        # Concurrent appends of this process to one chain share a transaction.
        self._groups = {chain: GroupCommit(partial(self._write_group, chain))
                        for chain in CHAINS}
        # A store created before migration 0002, opened read-only, has no outcome table yet.
        self._tables_present = self._present_tables()
        if created or (not read_only and not self.checkpoints.path.exists()
                       and all(self.head(c)[0] == 0 for c in CHAINS)):
            self.checkpoint()  # genesis: an empty store is on record from the start

    @staticmethod
    def _load_audit_keys(path: Path, read_only: bool) -> KeyRing:
        if not read_only:
            return KeyRing.load_or_create(path)
        try:  # a verifier must never mint a key of its own
            return KeyRing.load(path)
        except OSError as exc:
            raise AuditError(f"audit key file {path} unreadable ({type(exc).__name__})") from None

    # -- schema ----------------------------------------------------------------

    def _write_conn(self) -> Connection:
        if self.read_only:
            raise AuditWriteError("audit store was opened read-only")
        return self.engine.connect().execution_options(audit_write=True)

    def _migrate(self) -> bool:
        """Apply pending migrations; True if the store was created."""
        with self._write_conn() as conn, conn.begin():
            return migrate(conn, self.dialect)

    def _present_tables(self) -> set[str]:
        with self.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
        return {chain for chain, table in TABLES.items() if table.name in names}

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- pseudonyms --------------------------------------------------------

    @property
    def surrogates(self) -> Surrogates:
        if self._patient_keys is None:
            self._patient_keys = KeyRing.load_or_create(self._patient_key_file)
        return Surrogates(self._patient_keys)

    def patient_ref(self, patient_id: str) -> str:
        """Keyed surrogate for a patient id (what `PredictionEvent.patient_ref` holds)."""
        return self.surrogates.patient(patient_id)

    def course_ref(self, course_id: str) -> str:
        return self.surrogates.course(course_id)

    # -- writes --------------------------------------------------------------

    def append(self, event: PredictionEvent) -> StoredPrediction:
        """Write one prediction event durably (committed) or raise AuditWriteError."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[PredictionEvent]) -> list[StoredPrediction]:
        """Write a batch in one transaction: all events are chained and committed, or none."""
        rows = self._append(PREDICTION_CHAIN, events)
        # The events were validated on construction; only the chain link is new.
        return [StoredPrediction.model_construct(**e.__dict__, **_link(r))
                for e, r in zip(events, rows, strict=True)]

    def record_access(self, sub: str, role: str, action: str, *,
                      event_ids: Sequence[str] = (),
                      filters: Mapping[str, Any] | None = None) -> StoredAccess:
        """Audit an auditor read (into the separate `access` chain)."""
        try:
            access = AccessEvent(caller_sub=sub, caller_role=role, action=action,
                                 event_ids=list(event_ids), filters=dict(filters or {}))
        except ValueError as exc:
            raise AuditWriteError(f"invalid access record: {exc}") from None
        row = self._append(ACCESS_CHAIN, [access])[0]
        return StoredAccess.model_construct(**access.__dict__, **_link(row))

    def record_outcome(self, outcome: OutcomeEvent) -> StoredOutcome:
        """Append an observed outcome (its own chain); prediction rows stay untouched."""
        row = self._append(OUTCOME_CHAIN, [outcome])[0]
        return StoredOutcome.model_construct(**outcome.__dict__, **_link(row))

    def record_job(self, job: JobEvent) -> StoredJob:
        """Append one batch-job event (its own chain) durably, or raise AuditWriteError."""
        row = self._append(JOB_CHAIN, [job])[0]
        return StoredJob.model_construct(**job.__dict__, **_link(row))

    def _append(self, chain: ChainName, events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
        """Chain and commit `events` (all or none); returns their rows once committed."""
        if not events:
            return []
        try:  # serialised before joining a group: a refused value fails this caller only
            prepared = [_prepare(chain, ev) for ev in events]
        except ValueError as exc:  # canonical form refused a value
            raise AuditWriteError(f"audit event not serialisable: {exc}") from None
        return self._groups[chain].submit(prepared, len(prepared))

    def _write_group(self, chain: ChainName,
                     jobs: Sequence[list[tuple[dict[str, Any], str]]]) -> list[list[dict]]:
        """One transaction for the queued jobs of one chain, chained in arrival order."""
        key_id, key = self.audit_keys.current_id, self.audit_keys.current
        out: list[list[dict[str, Any]]] = []
        try:
            with self._write_conn() as conn, conn.begin():
                self._lock(conn, chain)
                first, prev = self._head_in(conn, chain)
                seq = first
                for job in jobs:
                    rows = []
                    for row, content_text in job:
                        seq += 1
                        digest = hmac_hex(key, chain_message_text(chain, seq, key_id, prev,
                                                                  content_text))
                        rows.append({**row, "seq": seq, "key_id": key_id, "prev_hash": prev,
                                     "hash": digest})
                        prev = digest
                    out.append(rows)
                conn.execute(TABLES[chain].insert(), [r for rows in out for r in rows])
            # leaving the block committed the transaction: the events are durable
        except SQLAlchemyError as exc:
            raise AuditWriteError(f"audit write failed: {describe(exc)}") from None
        if seq // self.checkpoint_every > first // self.checkpoint_every:
            self._checkpoint_quietly(chain, seq, prev)
        return out

    def _lock(self, conn: Connection, chain: ChainName) -> None:
        if self.dialect == "postgresql":  # SQLite already holds the write lock (IMMEDIATE)
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :c))"),
                         {"c": f"/audit-chain/{chain}"})

    @staticmethod
    def _head_in(conn: Connection, chain: ChainName) -> tuple[int, str]:
        row = conn.exec_driver_sql(HEAD_SQL[chain]).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def head(self, chain: ChainName = PREDICTION_CHAIN) -> tuple[int, str]:
        """(seq, hash) of the newest row of a chain; (0, GENESIS_HASH) when empty."""
        if chain not in getattr(self, "_tables_present", TABLES):
            return 0, GENESIS_HASH
        with self.engine.connect() as conn:
            return self._head_in(conn, chain)

    # -- checkpoints -----------------------------------------------------------

    def checkpoint(self) -> list[Checkpoint]:
        """Sign and write the current head of every chain (call on demand / at shutdown)."""
        out = []
        for chain in CHAINS:
            seq, head = self.head(chain)
            cp = sign_checkpoint(self.audit_keys, self.store_id, chain, seq, head)
            self.checkpoints.append(cp)
            out.append(cp)
        return out

    def _checkpoint_quietly(self, chain: ChainName, seq: int, head: str) -> None:
        # The events are already committed; a failed checkpoint must not turn into a 503.
        try:
            self.checkpoints.append(sign_checkpoint(self.audit_keys, self.store_id,
                                                    chain, seq, head))
        except OSError as exc:
            log.error("audit checkpoint at seq %d not written: %s", seq, type(exc).__name__)

    # -- reads -----------------------------------------------------------------

    @staticmethod
    def _decode(chain: ChainName, row: Mapping[Any, Any]) -> dict[str, Any]:
        out = dict(row)
        for name in JSON_COLUMNS[chain]:
            out[name] = json.loads(out[name])
        out["ts"] = normalise_ts(out["ts"])
        return out

    def list_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        model_version: str | None = None,
        risk_band: str | None = None,
        caller_sub: str | None = None,
        patient_ref: str | None = None,
        course_ref: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[EventSummary]:
        """Newest first; `since` inclusive, `until` exclusive; limit capped at 1000."""
        t = events_table
        query = select(*(t.c[name] for name in EventSummary.model_fields))
        if since is not None:
            query = query.where(t.c.ts >= normalise_ts(since))
        if until is not None:
            query = query.where(t.c.ts < normalise_ts(until))
        for column, value in (("model_version", model_version), ("risk_band", risk_band),
                              ("caller_sub", caller_sub), ("patient_ref", patient_ref),
                              ("course_ref", course_ref)):
            if value is not None:
                query = query.where(t.c[column] == value)
        query = (query.order_by(t.c.seq.desc())
                 .limit(max(0, min(limit, MAX_PAGE))).offset(max(0, offset)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [EventSummary.model_validate({**r, "ts": normalise_ts(r["ts"])}) for r in rows]

    def get_event(self, event_id: str) -> StoredPrediction | None:
        """The full event (features, explanation, chain link), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(events_table)
                               .where(events_table.c.event_id == event_id)).mappings().first()
        return None if row is None else StoredPrediction.model_validate(
            self._decode(PREDICTION_CHAIN, row))

    def list_access(self, *, limit: int = 100, offset: int = 0) -> list[StoredAccess]:
        """Auditor reads, newest first."""
        query = (select(access_table).order_by(access_table.c.seq.desc())
                 .limit(max(0, min(limit, MAX_PAGE))).offset(max(0, offset)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [StoredAccess.model_validate(self._decode(ACCESS_CHAIN, r)) for r in rows]

    def count_events(self, **filters: Any) -> int:
        """How many prediction events match `list_events` filters (for paging)."""
        t = events_table
        query = select(func.count()).select_from(t)
        if filters.get("since") is not None:
            query = query.where(t.c.ts >= normalise_ts(filters["since"]))
        if filters.get("until") is not None:
            query = query.where(t.c.ts < normalise_ts(filters["until"]))
        for column in ("model_version", "risk_band", "caller_sub", "patient_ref", "course_ref"):
            if filters.get(column) is not None:
                query = query.where(t.c[column] == filters[column])
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def list_outcomes(self, *, course_ref: str | None = None,
                      limit: int = 100, offset: int = 0) -> list[StoredOutcome]:
        """Recorded outcomes, newest first (optionally of one course)."""
        if OUTCOME_CHAIN not in self._tables_present:
            return []
        t = outcomes_table
        query = select(t)
        if course_ref is not None:
            query = query.where(t.c.course_ref == course_ref)
        query = query.order_by(t.c.seq.desc()).limit(max(0, min(limit, MAX_PAGE)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.offset(max(0, offset))).mappings().all()
        return [StoredOutcome.model_validate(self._decode(OUTCOME_CHAIN, r)) for r in rows]

    def list_jobs(self, *, limit: int = 100) -> list[StoredJob]:
        """Batch-job events, newest first."""
        if JOB_CHAIN not in self._tables_present:
            return []
        query = select(jobs_table).order_by(jobs_table.c.seq.desc()).limit(
            max(0, min(limit, MAX_PAGE)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [StoredJob.model_validate(self._decode(JOB_CHAIN, r)) for r in rows]

    def iter_rows(self, chain: ChainName, *, up_to: int | None = None, after: int = 0,
                  page: int = 2000) -> Iterator[dict[str, Any]]:
        """Raw rows of one chain in seq order, from seq `after` + 1 (keyset paging)."""
        if chain not in self._tables_present:
            return
        table = TABLES[chain]
        while True:
            query = select(table).where(table.c.seq > after)
            if up_to is not None:
                query = query.where(table.c.seq <= up_to)
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(table.c.seq).limit(page)).mappings().all()
            if not rows:
                return
            for row in rows:
                yield dict(row)
            after = int(rows[-1]["seq"])

    def verify(self) -> VerifyReport:
        """Walk every chain and check it against the signed checkpoints."""
        return verify_store(self)
