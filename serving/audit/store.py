"""The audit store: schema migrations, serialised chained appends, auditor queries.

Three chains live side by side: `audit_events` (served predictions),
`audit_access` (auditor reads) and `audit_outcomes` (observed outcomes). Each has its own gap-free `seq` and HMAC
chain; checkpoints name the chain they cover. Writers serialise per chain
(SQLite: BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock) and read the
previous hash inside the same transaction, so concurrent processes extend one
chain. Nothing here updates or deletes a row.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from serving.audit.chain import (
    Checkpoint,
    CheckpointLog,
    KeyRing,
    Surrogates,
    default_paths,
    hmac_hex,
    sign_checkpoint,
)
from serving.audit.events import (
    ACCESS_CHAIN,
    GENESIS_HASH,
    JSON_COLUMNS,
    OUTCOME_CHAIN,
    PREDICTION_CHAIN,
    AccessEvent,
    ChainName,
    EventSummary,
    OutcomeEvent,
    PredictionEvent,
    StoredAccess,
    StoredOutcome,
    StoredPrediction,
    chain_message_text,
    content_text,
    normalise_ts,
    row_from_event,
)
from serving.audit.group_commit import GroupCommit

if TYPE_CHECKING:
    from serving.audit.verify import VerifyReport

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MAX_PAGE = 1000

_meta = MetaData()


def _link_columns() -> list[Column[Any]]:
    return [Column("key_id", Text), Column("prev_hash", Text), Column("hash", Text)]


# Core tables for queries only; the DDL is in migrations/<dialect>/*.sql.
events_table = Table(
    "audit_events", _meta,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String), Column("ts", DateTime(timezone=True)),
    *(Column(n, Text) for n in ("request_id", "caller_sub", "caller_role", "endpoint",
                                "patient_ref", "course_ref", "model_name", "model_version",
                                "model_sha256", "features")),
    Column("probability", Float), Column("risk_band", Text), Column("thresholds", Text),
    Column("shap_values", Text), Column("shap_base", Float), Column("latency_ms", Float),
    *_link_columns(),
)
access_table = Table(
    "audit_access", _meta,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String), Column("ts", DateTime(timezone=True)),
    *(Column(n, Text) for n in ("caller_sub", "caller_role", "action", "event_ids", "filters")),
    *_link_columns(),
)
outcomes_table = Table(
    "audit_outcomes", _meta,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String), Column("ts", DateTime(timezone=True)),
    *(Column(n, Text) for n in ("caller_sub", "caller_role", "course_ref", "outcome",
                                "relapse_date", "followup_end_date", "linked_event_ids")),
    *_link_columns(),
)
_TABLES = {PREDICTION_CHAIN: events_table, ACCESS_CHAIN: access_table,
           OUTCOME_CHAIN: outcomes_table}
CHAINS: tuple[ChainName, ...] = (PREDICTION_CHAIN, ACCESS_CHAIN, OUTCOME_CHAIN)
_HEAD_SQL = {chain: f"SELECT seq, hash FROM {table.name} ORDER BY seq DESC LIMIT 1"
             for chain, table in _TABLES.items()}


class AuditError(RuntimeError):
    """The audit store cannot be opened or read."""


class AuditWriteError(AuditError):
    """An audit event was not durably written; the caller must not answer 200."""


def _describe(exc: BaseException) -> str:
    """Error class and code only: driver messages can echo row values."""
    orig = getattr(exc, "orig", None) or exc
    code = (getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None) or "")
    return f"{type(orig).__name__}{f' [{code}]' if code else ''}"


def _link(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ("seq", "key_id", "prev_hash", "hash")}


def _prepare(chain: ChainName, event: PredictionEvent | AccessEvent | OutcomeEvent,
             ) -> tuple[dict[str, Any], str]:
    """Column values and the canonical text of the hashed content, taken from the row
    (what the verifier reads back), so what is hashed is exactly what the database holds."""
    row = row_from_event(chain, event)
    return row, content_text(chain, row)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class AuditStore:
    """Append-only, HMAC-chained audit log of predictions and auditor reads."""

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
        self.engine = self._make_engine(url)
        self.dialect = "postgresql" if self.engine.dialect.name == "postgresql" else "sqlite"
        try:
            created = False if read_only else self._migrate()
            self.store_id = self._read_store_id()
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise AuditError(f"cannot open audit store at {_safe_url(url)}: "
                             f"{_describe(exc)}") from None
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

    # -- engine and schema -------------------------------------------------

    @staticmethod
    def _make_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=60000"):
                    dbapi_conn.execute(f"PRAGMA {pragma}")

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                # Writers take the write lock up front so the head they read stays the head.
                write = conn.get_execution_options().get("audit_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

            return engine
        return create_engine(url, hide_parameters=True, pool_pre_ping=True)

    def _write_conn(self) -> Connection:
        if self.read_only:
            raise AuditWriteError("audit store was opened read-only")
        return self.engine.connect().execution_options(audit_write=True)

    def _migrate(self) -> bool:
        """Apply pending migrations/<dialect>/NNNN_*.sql; True if the store was created."""
        files = sorted((MIGRATIONS_DIR / self.dialect).glob("[0-9][0-9][0-9][0-9]_*.sql"))
        with self._write_conn() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :n))"),
                             {"n": "/audit-migrate"})
            conn.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            done = {r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_version")}
            for path in files:
                version = int(path.name[:4])
                if version in done:
                    continue
                self._run_script(conn, path.read_text())
                conn.execute(text("INSERT INTO schema_version (version, name, applied_at) "
                                  "VALUES (:v, :n, :t)"),
                             {"v": version, "n": path.name, "t": datetime.now(UTC).isoformat()})
                log.info("applied audit migration %s", path.name)
            if conn.execute(text("SELECT 1 FROM audit_meta WHERE name = 'store_id'")).first():
                return False
            conn.execute(text("INSERT INTO audit_meta (name, value) VALUES ('store_id', :v)"),
                         {"v": uuid.uuid4().hex})
            return True

    def _run_script(self, conn: Connection, script: str) -> None:
        if self.dialect == "postgresql":
            conn.connection.driver_connection.execute(script)  # type: ignore[union-attr]
            return
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):  # knows trigger BEGIN ... END
                conn.exec_driver_sql(statement)
                statement = ""

    def _read_store_id(self) -> str:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text("SELECT value FROM audit_meta WHERE name = 'store_id'")).first()
        except SQLAlchemyError as exc:
            raise AuditError(f"no audit schema at {_safe_url(self.url)} "
                             f"({_describe(exc)})") from None
        if row is None:
            raise AuditError(f"audit store at {_safe_url(self.url)} has no store id")
        return str(row[0])

    def _present_tables(self) -> set[str]:
        from sqlalchemy import inspect

        with self.engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
        return {chain for chain, table in _TABLES.items() if table.name in names}

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

    def _append(self, chain: ChainName,
                events: Sequence[PredictionEvent | AccessEvent | OutcomeEvent],
                ) -> list[dict[str, Any]]:
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
                conn.execute(_TABLES[chain].insert(), [r for rows in out for r in rows])
            # leaving the block committed the transaction: the events are durable
        except SQLAlchemyError as exc:
            raise AuditWriteError(f"audit write failed: {_describe(exc)}") from None
        if seq // self.checkpoint_every > first // self.checkpoint_every:
            self._checkpoint_quietly(chain, seq, prev)
        return out

    def _lock(self, conn: Connection, chain: ChainName) -> None:
        if self.dialect == "postgresql":  # SQLite already holds the write lock (IMMEDIATE)
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :c))"),
                         {"c": f"/audit-chain/{chain}"})

    @staticmethod
    def _head_in(conn: Connection, chain: ChainName) -> tuple[int, str]:
        # Plain SQL valid on both dialects: read once per write transaction, and building
        # the Core select (cache key, compile) cost more than running it.
        row = conn.exec_driver_sql(_HEAD_SQL[chain]).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def head(self, chain: ChainName = PREDICTION_CHAIN) -> tuple[int, str]:
        """(seq, hash) of the newest row of a chain; (0, GENESIS_HASH) when empty."""
        if chain not in getattr(self, "_tables_present", _TABLES):
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
    def _decode(chain: ChainName, row: Mapping[str, Any]) -> dict[str, Any]:
        import json

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
        from sqlalchemy import func

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

    def iter_rows(self, chain: ChainName, *, up_to: int | None = None,
                  page: int = 2000) -> Iterator[dict[str, Any]]:
        """Raw rows of one chain in seq order (keyset paging, bounded memory)."""
        if chain not in self._tables_present:
            return
        table = _TABLES[chain]
        after = 0
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
        """Walk both chains and check them against the signed checkpoints."""
        from serving.audit.verify import verify_store

        return verify_store(self)
