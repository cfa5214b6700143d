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

import itertools
import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from audit.canonical import once_per_value
from audit.chain import (
    KeyFile,
    KeyRing,
    MissingKeyError,
    Surrogates,
    require_key_file,
)
from audit.checkpoint_check import CheckpointFindings, read_checkpoints
from audit.checkpointer import Checkpointer
from audit.checkpoints import Appended, CheckpointLog, Record, make_record
from audit.database import (
    AuditError,
    AuditWriteError,
    describe,
    dialect_of,
    make_engine,
    pending_migrations,
    read_store_id,
    safe_url,
    trigger_problems,
    wal_checkpoint,
    write_transaction,
    writer_turn,
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
    normalise_ts,
    row_from_event,
)
from audit.group_commit import GroupCommit, WriterBusy
from audit.paths import AuditPaths, default_paths
from audit.prediction_rows import PredictionColumns
from audit.rows import (
    ChainRows,
    EventRows,
    Prepared,
    Written,
    chain_hashes,
    in_order,
    prepare,
)
from audit.signing import Signer, VerifyKeys
from audit.tables import (
    CHAINS,
    COPY_SQL,
    HEAD_SQL,
    INSERT_SQL,
    REF_INDEX_MOVE_SQL,
    REF_INDEXED_SQL,
    REF_KEY_CHARS,
    REF_KEYED,
    REF_KEYS_MISSING_SQL,
    REF_TAIL_SQL,
    REF_TAIL_TOP_SQL,
    TABLES,
    access_table,
    events_table,
    jobs_table,
    outcomes_table,
    ref_is,
    ref_tail_table,
)
from audit.verify import VerifyReport, verify_store

__all__ = ["AuditError", "AuditStore", "AuditWriteError", "WriterBusy"]

log = logging.getLogger(__name__)

MAX_PAGE = 1000
# The lookup keys of a burst of appends wait this long for the background thread to index
# them (read meanwhile from the tail): 2 s and 10 s gained alike in the bench's A/B.
REF_INDEX_GATHER_S = 5.0
# Rows per transaction of that thread: a backlog's batch holds the writers ~0.3 s (100k rows
# moved in 0.27 s into a 197k-event store; 5 s of the bench's heaviest load is ~8k rows).
REF_INDEX_BATCH = 100_000
# False while a caller of `append_rows_now` leads its own write (see there).
_TURN_WAITS: ContextVar[bool] = ContextVar("audit_turn_waits", default=True)


def _event_filters(batched: bool, *, since: datetime | None = None,
                   until: datetime | None = None, **equal: str | None,
                   ) -> list[ColumnElement[bool]]:
    """The WHERE terms of `list_events` filters (`since` inclusive, `until` exclusive; the
    other names equal a column), the keyed-surrogate columns through their key index."""
    t = events_table
    terms = []
    if since is not None:
        terms.append(t.c.ts >= normalise_ts(since))
    if until is not None:
        terms.append(t.c.ts < normalise_ts(until))
    for name, value in equal.items():
        if name not in _EQUAL_FILTERS:
            raise TypeError(f"no event filter {name!r}")
        if value is not None:
            terms.append(ref_is(name, value, batched=batched) if name in REF_KEYED
                         else t.c[name] == value)
    return terms


_EQUAL_FILTERS = ("model_version", "risk_band", "caller_sub", *REF_KEYED)


def _ref_tail_rows(batches: Sequence[tuple[range, dict[str, Sequence[Any]]]],
                   ) -> Iterator[tuple[int, str, str]]:
    """(seq, patient key, course key) of each prediction row, for `audit_ref_tail`, from
    each batch's seqs and the columns `_insert` already took of it."""
    for seqs, cols in batches:
        yield from zip(seqs, [r[-REF_KEY_CHARS:] for r in cols["patient_ref"]],
                       [r[-REF_KEY_CHARS:] for r in cols["course_ref"]], strict=True)


def _head_of(row: Sequence[Any] | None) -> tuple[int, str, datetime | None]:
    """(seq, hash, ts) of a chain's newest row as HEAD_SQL reads it; genesis when empty."""
    if row is None:
        return 0, GENESIS_HASH, None
    ts = row[2] if isinstance(row[2], datetime) else datetime.fromisoformat(str(row[2]))
    return int(row[0]), str(row[1]), normalise_ts(ts)


def _load_verify_keys(path: Path) -> VerifyKeys:
    if not path.exists():
        require_key_file(path, "checkpoint public key file")  # raises, naming it
    try:
        return VerifyKeys.load(path)
    except (OSError, ValueError) as exc:
        raise MissingKeyError(f"checkpoint public key file {path} unreadable "
                              f"({type(exc).__name__})") from None


def _load_signer(path: Path) -> Signer:
    require_key_file(path, "checkpoint signing key file")
    return Signer.load(path)


class AuditStore:
    """Append-only, HMAC-chained audit log: predictions, auditor reads, outcomes, batch jobs."""

    def __init__(
        self,
        url: str | None = None,
        *,
        audit_keys: KeyRing | None = None,
        patient_keys: KeyRing | None = None,
        checkpoint_dir: Path | None = None,
        paths: AuditPaths | None = None,
        read_only: bool = False,
        background_checkpoints: bool = True,
    ) -> None:
        """Open an existing store; it is never created here (`make audit-init` does that).

        Defaults: URL from `config.get_settings().audit_url`; key files and the
        checkpoint location from `chain.default_paths()`. A writer needs the
        audit, patient and checkpoint-signing keys and a checkpoint chain that
        pins this store's id, else AuditError says what is missing.
        `read_only` (verify, monitoring) needs only the audit key and the
        checkpoints' public key; checkpoint problems are then verify's to report.
        """
        if url is None:
            from config import get_settings

            url = get_settings().audit_url
        self.paths = paths or default_paths()
        self.url = url
        self.read_only = read_only
        self.checkpoint_dir = Path(checkpoint_dir or self.paths.checkpoint_dir)
        self.checkpoints = CheckpointLog(self.checkpoint_dir)
        try:
            self._audit_key_file = None if audit_keys else KeyFile(self.paths.audit_key_file,
                                                                   "audit HMAC key file")
            self._fixed_audit_keys = audit_keys
            self._patient_keys = patient_keys or (None if read_only else require_key_file(
                self.paths.patient_key_file, "patient-surrogate key file"))
            # A writer needs them to check the chain it extends; a reader only when verifying.
            self._verify_keys = None if read_only else _load_verify_keys(
                self.paths.verify_key_file)
            self._signer = None if read_only else _load_signer(self.paths.signing_key_file)
        except MissingKeyError as exc:
            raise AuditError(str(exc)) from None
        self.engine = make_engine(url, must_exist=True, background_wal_checkpoints=not read_only)
        self.dialect = dialect_of(self.engine)
        try:
            self.store_id = read_store_id(self.engine, url)
            with self.engine.connect() as conn:
                pending = pending_migrations(conn, self.dialect)
        except (SQLAlchemyError, AuditError) as exc:
            self.engine.dispose()
            raise AuditError(str(exc) if isinstance(exc, AuditError) else
                             f"cannot open audit store at {safe_url(url)}: {describe(exc)}"
                             ) from None
        names = self._table_names()  # a read-only store may predate some migrations
        self._tables_present = {chain for chain, table in TABLES.items() if table.name in names}
        # SQLite from migration 0006: lookup keys batched out of the append (audit.tables).
        self._batched_refs = ref_tail_table.name in names
        self._pg_lz4 = self.dialect == "postgresql" and self._server_has_lz4()
        # How the event time column binds on this dialect (SQLite: SQLAlchemy's text form,
        # which the raw executemany must store exactly as an ORM insert would).
        ts_type = events_table.c.ts.type.dialect_impl(self.engine.dialect)
        self._ts_bind = ts_type.bind_processor(self.engine.dialect)
        self._last_appended: Appended | None = None
        self.checkpoint_alarm: str | None = None  # shown on the auditor banner when set
        if not read_only:
            if pending:
                self.engine.dispose()
                raise AuditError(f"audit schema at {safe_url(url)} lacks {', '.join(pending)}: "
                                 "run `make audit-migrate` (owner role) first")
            self._check_pinned()
        # Concurrent appends of this process to one chain share a transaction.
        self._groups = {chain: GroupCommit(partial(self._write_group, chain))
                        for chain in CHAINS}
        self.checkpointer: Checkpointer | None = None
        if not read_only and background_checkpoints:
            self.checkpointer = Checkpointer(self._checkpoint_now)
        # SQLite: the WAL is copied into the database file on this thread, after commits,
        # not by the committing writer (a 10k-row chunk's copy doubled its commit).
        self._wal: Checkpointer | None = None
        if not read_only and self.dialect == "sqlite":
            self._wal = Checkpointer(partial(wal_checkpoint, self.engine, self.url),
                                     what="SQLite WAL checkpoint")
        self._ref_keys: Checkpointer | None = None
        if not read_only and self._batched_refs:
            self._ref_keys = Checkpointer(self.index_lookup_keys, gather_s=REF_INDEX_GATHER_S,
                                          what="audit lookup-key index")

    @property
    def audit_keys(self) -> KeyRing:
        """The audit HMAC key ring (re-read when its file changes: a rotation)."""
        if self._fixed_audit_keys is not None:
            return self._fixed_audit_keys
        assert self._audit_key_file is not None
        try:
            return self._audit_key_file.current()
        except MissingKeyError as exc:
            raise AuditError(str(exc)) from None

    @property
    def verify_keys(self) -> VerifyKeys:
        """The checkpoints' public keys (all a verifier holds of the signing key)."""
        if self._verify_keys is None:
            try:
                self._verify_keys = _load_verify_keys(self.paths.verify_key_file)
            except MissingKeyError as exc:
                raise AuditError(str(exc)) from None
        return self._verify_keys

    def _check_pinned(self) -> None:
        latest = self.checkpoints.latest()
        if latest is None or not latest.signed_by(self.verify_keys):
            self.engine.dispose()
            raise AuditError(
                f"no valid checkpoint chain at {self.checkpoint_dir}: it is never recreated on "
                "its own; restore it, or `make audit-init` for a new installation")
        if latest.store_id != self.store_id:
            self.engine.dispose()
            raise AuditError(
                f"the audit database's store id {self.store_id} is not the id {latest.store_id} "
                f"pinned in {self.checkpoint_dir}: the store was replaced or re-created; "
                "`make audit-verify` explains, a restore needs `make audit-restore-ack`")

    def _server_has_lz4(self) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.exec_driver_sql(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'").scalar())

    def _table_names(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(inspect(conn).get_table_names())

    def schema_problems(self) -> list[str]:
        """Append-only triggers that are missing or disabled."""
        with self.engine.connect() as conn:
            return trigger_problems(conn, self.dialect)

    def lookup_notes(self) -> list[str]:
        """A lookup-key backlog beyond one batch: the background thread is failing (lookups
        stay complete, reading the tail, but slow down as it grows)."""
        if not self._batched_refs:
            return []
        with self.engine.connect() as conn:
            upto, newest = conn.exec_driver_sql(REF_TAIL_TOP_SQL).one()
        if upto is None:
            return []  # no mark: a problem, which `lookup_problems` reports
        behind = newest - upto
        return [f"{behind} prediction events' lookup keys wait to be indexed (more than one "
                f"batch, {REF_INDEX_BATCH}): see the service log for 'audit lookup-key index'"
                ] if behind > REF_INDEX_BATCH else []

    def lookup_problems(self) -> list[str]:
        """Prediction rows a lookup by patient or course would miss (SQLite's batched lookup
        keys, migration sqlite/0006): the chain's hashes do not cover those tables, so an
        edit there could hide events from the auditors' lookups without breaking it. Reads
        every row: part of the full `verify`, not of the incremental check."""
        if not self._batched_refs:
            return []
        with self.engine.connect() as conn:
            marks = conn.exec_driver_sql("SELECT count(*) FROM audit_ref_indexed").scalar_one()
            if marks != 1:  # a lookup would read no tail, or the wrong one
                return [f"the lookup keys' mark has {marks} rows instead of 1"]
            missing = conn.exec_driver_sql(REF_KEYS_MISSING_SQL).scalar_one()
        return [f"{missing} prediction event(s) missing from the patient/course lookup keys"
                ] if missing else []

    def close(self) -> None:
        """Write the last checkpoint (if the heads moved), then let go of the database."""
        if self.checkpointer is not None:
            self.checkpointer.close()
            self.checkpointer = None
        if self._ref_keys is not None:  # before the WAL's: its last batch is copied too
            self._ref_keys.close()
            self._ref_keys = None
        if self._wal is not None:
            self._wal.close()
            self._wal = None
        self.engine.dispose()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- pseudonyms --------------------------------------------------------

    @property
    def surrogates(self) -> Surrogates:
        if self._patient_keys is None:  # a reader loads it only if it needs it
            try:
                self._patient_keys = require_key_file(self.paths.patient_key_file,
                                                      "patient-surrogate key file")
            except MissingKeyError as exc:
                raise AuditError(str(exc)) from None
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

    def append_many(self, events: Sequence[PredictionEvent] | PredictionColumns,
                    ) -> list[StoredPrediction]:
        """Write a batch in one transaction: all events are chained and committed, or none.

        Events or prediction rows built column-wise (audit.prediction_rows) are written the
        same way; `append_rows` is the same write without handing the rows back.
        """
        if isinstance(events, PredictionColumns):
            written = self.append_rows(events)
            assert isinstance(written.rows, PredictionColumns)
            return written.rows.stored(written.seqs(), written.key_id, written.prev_hashes,
                                       written.hashes)
        try:
            columns = PredictionColumns.from_events(events)
        except ValueError as exc:  # canonical form refused a value
            raise AuditWriteError(f"audit event not serialisable: {exc}") from None
        written = self.append_rows(columns)
        # The events were validated on construction; only the chain link (and a time moved
        # up to keep the chain's times in order) is new.
        return [StoredPrediction.model_construct(**{**e.__dict__, **written.link(i)})
                for i, e in enumerate(events)]

    def append_rows(self, rows: PredictionColumns) -> Written:
        """Chain and commit prediction rows (all or none); their seq range and links."""
        return self._append(rows)

    def append_rows_now(self, batches: Sequence[PredictionColumns],
                        ) -> list[Written | AuditWriteError | WriterBusy]:
        """`append_rows` of several callers' batches in one transaction, for a caller that
        must not block behind another writer (the event loop): each batch's links, or why
        it was not written.

        WriterBusy (raised, nothing written) where a group of this process or another
        process's turn on SQLite's writer lock holds the store; WriterBusy in the list marks
        the batches from where a failed group's one-at-a-time retry found it held: unwritten,
        in order.
        A batch that cannot be written fails alone. SQLite's own lock is not tried first:
        a writer outside `writer_turn` (a key rotation, a migration) can still make this
        wait.
        """
        out: list[Written | AuditWriteError | WriterBusy | None] = [None] * len(batches)
        ready: list[tuple[int, Prepared]] = []
        for i, rows in enumerate(batches):
            try:
                ready.append((i, self._prepare(rows)))
            except AuditWriteError as exc:
                out[i] = exc
        # This caller leads the group in its own thread (GroupCommit), so the flag reaches
        # `_write_group` through the caller's context.
        if not ready:
            return out  # type: ignore[return-value]  # every one refused
        token = _TURN_WAITS.set(False)
        try:
            results = self._groups[PREDICTION_CHAIN].submit_now(
                [(prepared, len(batches[i])) for i, prepared in ready])
        finally:
            _TURN_WAITS.reset(token)
        for (i, _), result in zip(ready, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(
                    result, (AuditWriteError, WriterBusy)):
                raise result  # not a write's failure: a bug, not an answer
            out[i] = result
        return out  # type: ignore[return-value]  # every slot filled above

    def record_access(self, sub: str, role: str, action: str, *,
                      event_ids: Sequence[str] = (),
                      filters: Mapping[str, Any] | None = None) -> StoredAccess:
        """Audit an auditor read (into the separate `access` chain)."""
        try:
            access = AccessEvent(caller_sub=sub, caller_role=role, action=action,
                                 event_ids=list(event_ids), filters=dict(filters or {}))
        except ValueError as exc:
            raise AuditWriteError(f"invalid access record: {exc}") from None
        written = self._append_event(ACCESS_CHAIN, access)
        return StoredAccess.model_construct(**{**access.__dict__, **written.link(0)})

    def record_outcome(self, outcome: OutcomeEvent) -> StoredOutcome:
        """Append an observed outcome (its own chain); prediction rows stay untouched."""
        written = self._append_event(OUTCOME_CHAIN, outcome)
        return StoredOutcome.model_construct(**{**outcome.__dict__, **written.link(0)})

    def record_job(self, job: JobEvent) -> StoredJob:
        """Append one batch-job event (its own chain) durably, or raise AuditWriteError."""
        written = self._append_event(JOB_CHAIN, job)
        return StoredJob.model_construct(**{**job.__dict__, **written.link(0)})

    def _append_event(self, chain: ChainName, event: AuditEvent) -> Written:
        try:
            rows = EventRows(chain, [row_from_event(chain, event)])
        except ValueError as exc:  # canonical form refused a value
            raise AuditWriteError(f"audit event not serialisable: {exc}") from None
        return self._append(rows)

    def _append(self, rows: ChainRows) -> Written:
        """Chain and commit `rows` (all or none) once their hashes are prepared."""
        if not len(rows):
            return Written(rows, 0, "", [], [])
        return self._groups[rows.chain].submit(self._prepare(rows), len(rows))

    def _prepare(self, rows: ChainRows) -> Prepared:
        """Serialised and hashed ahead, before joining a group: a refused value fails this
        caller only."""
        if self.read_only:
            raise AuditWriteError("audit store was opened read-only")
        try:
            keys = self.audit_keys
        except AuditError as exc:  # the key file vanished: no write
            raise AuditWriteError(str(exc)) from None
        try:
            return prepare(rows, keys.current_id, keys.current)
        except ValueError as exc:  # canonical form refused a value
            raise AuditWriteError(f"audit event not serialisable: {exc}") from None

    def _write_group(self, chain: ChainName, jobs: Sequence[Prepared]) -> list[Written]:
        """One transaction for the queued jobs of one chain, chained in arrival order."""
        out: list[Written] = []
        try:
            with (writer_turn(self.url, wait=_TURN_WAITS.get()),
                  write_transaction(self.engine) as cursor):
                self._lock(cursor, chain)
                seq, prev, prev_ts = _head_of(cursor.execute(HEAD_SQL[chain]).fetchone())
                # Read under the chain's lock: a rotation holds every chain's lock while it
                # records the retirement, so no row after it is signed with the old key.
                try:
                    keys = self.audit_keys
                except AuditError as exc:  # the key file vanished: no write, no answer
                    raise AuditWriteError(str(exc)) from None
                key_id, key = keys.current_id, keys.current
                for job in jobs:
                    rows, states = job.rows, job.states
                    moved = in_order(rows.ts, prev_ts)
                    if moved is not None:
                        rows = rows.with_ts(moved)
                    if moved is not None or job.key_id != key_id:  # hashed ahead: again
                        states = prepare(rows, key_id, key).states
                    hashes = chain_hashes(states, prev, seq)
                    out.append(Written(rows, seq + 1, key_id, [prev, *hashes[:-1]], hashes))
                    seq, prev, prev_ts = seq + len(hashes), hashes[-1], rows.ts[-1]
                self._insert(cursor, chain, out)
            # leaving the block committed the transaction: the events are durable
        except (SQLAlchemyError, sqlite3.Error, psycopg.Error) as exc:  # the drivers' own
            raise AuditWriteError(f"audit write failed: {describe(exc)}") from None
        if self.checkpointer is not None:
            self.checkpointer.poke()  # signed in the background, never on the request path
        if self._ref_keys is not None and chain == PREDICTION_CHAIN:
            self._ref_keys.poke()
        if self._wal is not None:
            self._wal.poke()
        return out

    def _insert(self, cursor: Any, chain: ChainName, batches: Sequence[Written]) -> None:
        """The rows as plain tuples straight to the driver's cursor `cursor`, in its open
        transaction:
        SQLite executemany, PostgreSQL COPY (no per-row dict or statement building)."""
        names = [c.name for c in TABLES[chain].columns]
        content = names[1:-3]  # between seq and key_id, prev_hash, hash
        data = []
        taken = [(w.seqs(), w.rows.columns()) for w in batches]
        for w, (seqs, cols) in zip(batches, taken, strict=True):
            n = len(w.hashes)
            data.append(zip(seqs, *(self._db_ts(cols[c]) if c == "ts" else cols[c]
                                    for c in content),
                            repeat(w.key_id, n), w.prev_hashes, w.hashes, strict=True))
        if self.dialect == "postgresql":
            with cursor.copy(COPY_SQL[chain]) as copy:
                for row in itertools.chain.from_iterable(data):
                    copy.write_row(row)
        else:
            cursor.executemany(INSERT_SQL[chain], itertools.chain.from_iterable(data))
            if chain == PREDICTION_CHAIN and self._batched_refs:
                cursor.executemany(REF_TAIL_SQL, _ref_tail_rows(taken))

    def index_lookup_keys(self, batch: int = REF_INDEX_BATCH) -> None:
        """Index now what waits in the tail (the background thread does it within seconds of
        a burst of commits, and at close; a benchmark calls it to time it).

        Moves the lookup keys appended since the index's mark from the tail into the index,
        sorted by key: the leaves each key lands in are written once per batch, not once per
        row (migration sqlite/0006). At most `batch` rows per transaction, so a backlog (a
        store written while this thread failed) holds the writers back a batch at a time.
        Idempotent across processes: the mark is read and moved under the write lock."""
        if batch < 1:
            raise ValueError("batch must be at least one row")
        while True:
            with writer_turn(self.url), write_transaction(self.engine) as cursor:
                upto, newest = cursor.execute(REF_TAIL_TOP_SQL).fetchone()
                top = min(newest, upto + batch)  # seqs are gap-free: `batch` rows
                if top > upto:
                    cursor.execute(REF_INDEX_MOVE_SQL, {"upto": upto, "top": top})
                    cursor.execute(REF_INDEXED_SQL, {"top": top})
            if top >= newest:
                return

    def _db_ts(self, ts: Sequence[datetime]) -> Sequence[Any]:
        """Event times as the table's column type binds them (SQLite: SQLAlchemy's text)."""
        process = self._ts_bind
        return ts if process is None else once_per_value(ts, process)

    def _lock(self, cursor: Any, chain: ChainName) -> None:
        if self.dialect != "postgresql":  # SQLite already holds the write lock (IMMEDIATE)
            return
        # A prediction row (~3 KB) is TOASTed: pglz compressing its JSON (numbers, which
        # hardly compress) cost the server more than the rest of the row's COPY. lz4, for
        # this transaction only, where the server has it: same values, cheaper bytes.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || %s))"
                       + (", set_config('default_toast_compression', 'lz4', true)"
                          if self._pg_lz4 else ""), (f"/audit-chain/{chain}",))

    def head(self, chain: ChainName = PREDICTION_CHAIN) -> tuple[int, str]:
        """(seq, hash) of the newest row of a chain; (0, GENESIS_HASH) when empty."""
        return self.heads()[chain]

    def heads(self) -> dict[str, tuple[int, str]]:
        """(seq, hash) of the newest row of every chain, read in one transaction."""
        with self.engine.connect() as conn:
            return {chain: _head_of(conn.exec_driver_sql(HEAD_SQL[chain]).first())[:2]
                    if chain in self._tables_present else (0, GENESIS_HASH)
                    for chain in CHAINS}

    # -- checkpoints -----------------------------------------------------------

    def checkpoint(self) -> Record | None:
        """Sign the current heads into the checkpoint chain now, if they moved (batch-job end,
        export); the background writer does the same within a second of every commit."""
        if self.read_only:
            raise AuditWriteError("audit store was opened read-only")
        return self._checkpoint_now()

    def _checkpoint_now(self) -> Record | None:
        assert self._signer is not None
        with self.checkpoints.locked():
            latest = self.checkpoints.latest()
            alarm = self._tampered_since_last(latest)
            if alarm is not None:
                self.checkpoint_alarm = alarm
                log.error("AUDIT ALARM: %s; no further checkpoints are written", alarm)
                return None
            assert latest is not None  # else _tampered_since_last named it
            heads = self.heads()
            if latest.heads == heads:
                return None  # never a checkpoint of heads already on record
            record = make_record(self._signer, "checkpoint", latest, self.store_id, heads)
            self._last_appended = self.checkpoints.append(record)
            return record

    def _tampered_since_last(self, latest: Record | None) -> str | None:
        """Why the newest checkpoint on disk is not (a successor of) the one written last."""
        if latest is None or not latest.signed_by(self.verify_keys):
            return f"the newest checkpoint record in {self.checkpoint_dir} is missing or invalid"
        if latest.store_id != self.store_id:
            return f"the checkpoint chain in {self.checkpoint_dir} now pins another store id"
        last = self._last_appended
        if last is not None and (latest.n < last.record.n
                                 or not self.checkpoints.still_there(last)):
            return (f"checkpoint record {last.record.n} written by this process is gone from "
                    f"{self.checkpoints.chain_path} (the file was truncated or replaced)")
        return None

    def read_checkpoints(self) -> CheckpointFindings:
        try:
            keys = self.verify_keys
        except AuditError as exc:
            return CheckpointFindings(problems=[str(exc)])
        return read_checkpoints(self.checkpoints, keys)

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
        query = select(*(t.c[name] for name in EventSummary.model_fields)).where(
            *_event_filters(self._batched_refs, since=since, until=until,
                            model_version=model_version, risk_band=risk_band,
                            caller_sub=caller_sub, patient_ref=patient_ref,
                            course_ref=course_ref))
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
        query = select(func.count()).select_from(events_table).where(
            *_event_filters(self._batched_refs, **filters))
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
