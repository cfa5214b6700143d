"""Audit store against SQLite (tmp dir) and PostgreSQL (a throw-away schema per test).

PostgreSQL tests FAIL when the server is unreachable, unless AUDIT_PG_URL=skip.
Attacks are played as a DB admin would: plain SQL, triggers disabled.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from audit import (
    AuditStore,
    AuditWriteError,
    KeyRing,
    PredictionEvent,
    export_archive,
    verify_archive,
)
from audit.__main__ import main as cli
from audit.chain import hmac_hex
from audit.database import MIGRATIONS_DIR
from audit.events import PREDICTION_CHAIN, chain_message, content_from_row
from audit.installation import migrate_store
from tests.audit_setup import installed

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DISABLE_TRIGGERS = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_events_no_update",
               "DROP TRIGGER IF EXISTS audit_events_no_delete"],
    "postgresql": ["ALTER TABLE audit_events DISABLE TRIGGER USER"],
}


@dataclass
class Backend:
    dialect: str
    url: str
    tmp: Path

    def open(self, **kwargs: object) -> AuditStore:
        return AuditStore(self.url, **kwargs)  # keys and checkpoints: env set by the fixture

    def sql(self, *statements: str | tuple[str, tuple]) -> None:
        """Run statements (text or (text, params)) as an attacker with DB admin rights."""
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                for item in statements:
                    statement, params = (item, ()) if isinstance(item, str) else item
                    conn.exec_driver_sql(statement, params)
        finally:
            engine.dispose()

    def tamper(self, *statements: str | tuple[str, tuple]) -> None:
        self.sql(*DISABLE_TRIGGERS[self.dialect], *statements)


def _pg_schema(base: str) -> Iterator[str]:
    schema = f"audit_test_{secrets.token_hex(6)}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except Exception as exc:  # noqa: BLE001 - any connection failure must fail the test
        admin.dispose()
        pytest.fail(f"PostgreSQL unreachable at {base} ({type(exc).__name__}); "
                    "set AUDIT_PG_URL=skip to skip the PostgreSQL tests")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", installed(monkeypatch, tmp_path), tmp_path)
        return
    base = os.environ.get("AUDIT_PG_URL") or PG_DEFAULT
    if base == "skip":
        pytest.skip("AUDIT_PG_URL=skip")
    for url in _pg_schema(base):
        yield Backend("postgresql", installed(monkeypatch, tmp_path, url), tmp_path)


def event(store: AuditStore, i: int, **overrides: object) -> PredictionEvent:
    fields: dict[str, object] = dict(
        request_id=f"req-{i}", caller_sub=f"dr-{i % 3}", caller_role="clinician",
        endpoint="/score", patient_ref=store.patient_ref(f"MRN{i}"),
        course_ref=store.course_ref(f"C{i}"), model_name="relapse-risk",
        model_version="7" if i % 2 else "8", model_sha256="ab" * 32,
        features={"age": 30 + i, "audit_score": 20.5, "sex": "F", "prior_tx": None},
        probability=(i % 10) / 10 + 0.05, risk_band="high" if i % 10 >= 5 else "low",
        thresholds={"high": 0.5}, shap_values={"age": 0.01 * i, "audit_score": -0.2},
        shap_base=-0.4, latency_ms=1.5,
    )
    fields.update(overrides)
    return PredictionEvent(**fields)  # type: ignore[arg-type]


def fill(store: AuditStore, n: int) -> list[PredictionEvent]:
    events = [event(store, i) for i in range(n)]
    for e in events:
        store.append(e)
    return events


def test_append_query_and_verify(backend: Backend) -> None:
    with backend.open() as store:
        assert store.verify().ok  # empty store, genesis checkpoint
        events = fill(store, 12)
        stored = store.get_event(events[3].event_id)
        assert stored is not None and stored.seq == 4
        assert stored.features == events[3].features and stored.probability == events[3].probability
        assert stored.ts == events[3].ts
        assert store.get_event("0" * 32) is None
        assert [s.seq for s in store.list_events(limit=3)] == [12, 11, 10]
        assert [s.seq for s in store.list_events(limit=3, offset=10)] == [2, 1]
        assert all(s.model_version == "7" for s in store.list_events(model_version="7"))
        assert len(store.list_events(risk_band="high")) == 5
        assert len(store.list_events(caller_sub="dr-0")) == 4
        assert len(store.list_events(patient_ref=store.patient_ref("MRN5"))) == 1
        cut = events[6].ts
        assert {s.seq for s in store.list_events(since=cut)} == set(range(7, 13))
        assert {s.seq for s in store.list_events(until=cut)} == set(range(1, 7))
        future = datetime.now(UTC) + timedelta(days=1)
        assert store.list_events(since=future) == []
        access = store.record_access("auditor-1", "auditor", "get_event",
                                     event_ids=[events[3].event_id])
        assert access.seq == 1 and store.list_access()[0].event_ids == [events[3].event_id]
        report = store.verify()
        assert report.ok, str(report)
        assert report.chains["prediction"].head_seq == 12
        assert report.chains["access"].head_seq == 1


def test_migrations_are_idempotent(backend: Backend) -> None:
    with backend.open() as first:
        fill(first, 2)
    migrate_store(backend.url)
    with backend.open() as second:
        assert second.store_id == first.store_id
        with second.engine.connect() as conn:
            applied = conn.exec_driver_sql("SELECT count(*) FROM schema_version").scalar()
        assert applied == len(list((MIGRATIONS_DIR / backend.dialect).glob("*.sql")))
        assert second.verify().ok


def _hash_indexed(backend: Backend) -> bool:
    """Whether an index of audit_events is keyed by `hash`."""
    engine = create_engine(backend.url)
    try:
        with engine.connect() as conn:
            if backend.dialect == "postgresql":
                defs = [str(r[0]) for r in conn.exec_driver_sql(
                    "SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_events' "
                    "AND schemaname = current_schema()")]
                return any(d.endswith("(hash)") for d in defs)
            names = [r[1] for r in conn.exec_driver_sql("PRAGMA index_list(audit_events)")]
            return any([c[2] for c in conn.exec_driver_sql(f"PRAGMA index_info({n!r})")]
                       == ["hash"] for n in names)
    finally:
        engine.dispose()


def test_a_store_from_before_the_hash_index_was_dropped_upgrades_in_place(
        backend: Backend) -> None:
    """The prediction chain's hash column is not indexed (nothing looks a row up by it;
    every append paid a random page for it). A populated store made before that migration
    keeps every row and hash, verifies, and stays append-only."""
    with backend.open() as store:
        fill(store, 5)
        before = [(r["seq"], r["hash"]) for r in store.iter_rows(PREDICTION_CHAIN)]
    assert not _hash_indexed(backend)
    version = {"sqlite": 4, "postgresql": 5}[backend.dialect]
    backend.sql("CREATE UNIQUE INDEX audit_events_hash_key ON audit_events (hash)"
                if backend.dialect == "sqlite" else
                "ALTER TABLE audit_events ADD CONSTRAINT audit_events_hash_key UNIQUE (hash)",
                f"DELETE FROM schema_version WHERE version = {version}")
    assert _hash_indexed(backend)
    migrate_store(backend.url)
    assert not _hash_indexed(backend)
    with backend.open() as upgraded:
        assert [(r["seq"], r["hash"]) for r in upgraded.iter_rows(PREDICTION_CHAIN)] == before
        assert upgraded.verify().ok
        fill(upgraded, 1)
        assert upgraded.verify().ok and upgraded.head()[0] == 6
    for attack in ("DELETE FROM audit_events WHERE seq = 1",
                   "UPDATE audit_events SET probability = 0.99 WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"):
            backend.sql(attack)


def _plans_of_lookups(backend: Backend, store: AuditStore, **filters: str) -> list[str]:
    """The query plan of each statement `list_events` and `count_events` run for `filters`
    (PostgreSQL with sequential scans priced out, as on a big table: on a few rows it would
    rightly prefer one)."""
    statements: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):  # not the BEGIN of a transaction
            statements.append((statement, parameters))

    sa_event.listen(store.engine, "before_cursor_execute", seen)
    try:
        store.list_events(**filters)
        store.count_events(**filters)
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", seen)
    assert len(statements) == 2
    plans = []
    with store.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if backend.dialect == "postgresql":
            cursor.execute("SET enable_seqscan = off")
        for statement, parameters in statements:
            prefix = "EXPLAIN QUERY PLAN " if backend.dialect == "sqlite" else "EXPLAIN "
            cursor.execute(prefix + statement, parameters)
            plans.append(statement + "\n" + "\n".join(str(row) for row in cursor.fetchall()))
        conn.rollback()
    return plans


def _scalar(backend: Backend, statement: str) -> object:
    engine = create_engine(backend.url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(statement).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("column", ["patient_ref", "course_ref"])
def test_lookups_by_keyed_surrogate_use_their_short_key_index_and_stay_exact(
        backend: Backend, column: str) -> None:
    """Patient and course lookups go through each ref's last 16 hex digits: on PostgreSQL
    an index on the table (migration postgresql/0006), on SQLite the batched key index up
    to its mark and the narrow tail past it (sqlite/0006). A row is found before and after
    the background thread indexed it, on both sides of the mark at once, never twice; a
    ref sharing only those digits matches nothing; a store made before the migration
    upgrades in place with its rows indexed."""
    sqlite = backend.dialect == "sqlite"
    twin_of = lambda ref: "other-key." + "0" * 48 + ref[-16:]  # noqa: E731
    with backend.open() as store:
        events = fill(store, 6)
        ref = getattr(events[2], column)
        for plan in _plans_of_lookups(backend, store, **{column: ref}):
            if sqlite:
                assert "SEARCH audit_ref_index USING PRIMARY KEY (kind=? AND ref_key=?)" in plan
                assert "SEARCH audit_ref_tail USING INTEGER PRIMARY KEY (rowid>?)" in plan
            else:
                assert f"audit_events_{column.split('_')[0]}_key" in plan, plan
        assert [e.seq for e in store.list_events(**{column: ref})] == [3]  # in the tail
        if sqlite:
            store.index_lookup_keys(batch=4)  # a backlog moves in bounded transactions
            assert _scalar(backend, "SELECT upto FROM audit_ref_indexed") == 6
            assert _scalar(backend, "SELECT count(*) FROM audit_ref_index") == 12
        assert [e.seq for e in store.list_events(**{column: ref})] == [3]  # indexed
        store.append(event(store, 2))  # the same patient and course again, past the mark
        store.append(event(store, 2, **{column: twin_of(ref)}))
        assert [e.seq for e in store.list_events(**{column: ref})] == [7, 3]
        assert store.count_events(**{column: ref}) == 2
        # The same last 16 digits, another ref: found by the key, refused by the whole ref.
        assert [e.seq for e in store.list_events(**{column: twin_of(ref)})] == [8]
        other = "another-key." + "1" * 48 + ref[-16:]
        assert store.list_events(**{column: other}) == [] and store.count_events(
            **{column: other}) == 0
    if sqlite:  # closing the store indexed what its last appends left in the tail
        assert _scalar(backend, "SELECT upto FROM audit_ref_indexed") == 8
        backend.sql("DROP TABLE audit_ref_tail", "DROP TABLE audit_ref_index",
                    "DROP TABLE audit_ref_indexed",
                    "CREATE INDEX audit_events_patient_key ON audit_events "
                    "(substr(patient_ref, length(patient_ref) - 15))",
                    "CREATE INDEX audit_events_course_key ON audit_events "
                    "(substr(course_ref, length(course_ref) - 15))",
                    "DELETE FROM schema_version WHERE version = 6")
    else:
        backend.sql("DROP INDEX audit_events_patient_key", "DROP INDEX audit_events_course_key",
                    "CREATE INDEX audit_events_patient_ref ON audit_events (patient_ref)",
                    "CREATE INDEX audit_events_course_ref ON audit_events (course_ref)",
                    "DELETE FROM schema_version WHERE version = 6")
    migrate_store(backend.url)
    if sqlite:  # every row indexed by the migration itself
        assert _scalar(backend, "SELECT upto FROM audit_ref_indexed") == 8
        assert _scalar(backend, "SELECT count(*) FROM audit_ref_index") == 16
    with backend.open() as upgraded:
        assert [e.seq for e in upgraded.list_events(**{column: ref})] == [7, 3]
        assert upgraded.verify().ok


@pytest.mark.parametrize("edit", [
    "DELETE FROM audit_ref_index WHERE kind = 'course' AND seq = 2",  # indexed, then lost
    "DELETE FROM audit_ref_tail WHERE seq = 5",  # past the mark: the tail is its only key
    "UPDATE audit_ref_tail SET patient_key = '0000000000000000' WHERE seq = 6",
    "UPDATE audit_ref_tail SET course_key = '0000000000000000' WHERE seq = 5",
    "DELETE FROM audit_ref_indexed",  # no mark: a lookup would read no tail
])
def test_verify_finds_an_event_the_lookup_keys_would_hide(backend: Backend, edit: str) -> None:
    """The chain's hashes do not cover SQLite's lookup-key tables, so the full `verify`
    checks them: an event whose key is gone or wrong is reported; untouched, none is."""
    if backend.dialect != "sqlite":
        pytest.skip("PostgreSQL indexes the keys on the table itself")
    table = edit.split()[1] if edit.startswith("UPDATE") else edit.split()[2]
    drop = [f"DROP TRIGGER IF EXISTS {table}_no_{what}" for what in ("insert", "update",
                                                                      "delete")]
    with backend.open() as store:
        fill(store, 4)
        store.index_lookup_keys()  # seqs 1-4 indexed, 5-6 only in the tail
        fill(store, 2)
        assert store.verify().ok and store.lookup_problems() == []
        backend.sql(*drop, edit)
        report = store.verify()
    assert not report.ok
    assert ("the lookup keys' mark has 0 rows instead of 1" if "indexed" in edit else
            "1 prediction event(s) missing from the patient/course lookup keys"
            ) in report.problems


def test_verify_notes_a_lookup_key_backlog_beyond_one_batch(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys waiting in the tail beyond one batch mean the background thread is failing:
    `verify` says so (a note: lookups still find every row), and not before."""
    if backend.dialect != "sqlite":
        pytest.skip("PostgreSQL indexes the keys on the table itself")
    monkeypatch.setattr("audit.store.REF_INDEX_BATCH", 3)
    with backend.open() as store:
        fill(store, 3)
        assert store.verify().warnings == []
        fill(store, 1)
        report = store.verify()
        assert report.ok and any("4 prediction events' lookup keys wait" in w
                                 for w in report.warnings), report.warnings
        store.index_lookup_keys()
        assert store.verify().warnings == []


def test_the_sqlite_wal_restarts_under_a_steady_stream_of_commits(backend: Backend) -> None:
    """The background WAL checkpoint completes while writers keep committing, so SQLite
    starts the WAL again from its beginning (a new salt in its header) instead of growing
    the file for as long as the store stays open."""
    if backend.dialect != "sqlite":
        pytest.skip("PostgreSQL has no WAL file of the store's own")
    wal = Path(make_url(backend.url).database + "-wal")
    salts: set[bytes] = set()
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            store.append_many([event(store, i + k) for k in range(20)])
            i += 20

    with backend.open() as store:
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline and len(salts) < 3:
                with contextlib.suppress(OSError):
                    with wal.open("rb") as fh:
                        header = fh.read(32)
                    if len(header) == 32:
                        salts.add(header[16:24])  # salt-1, salt-2: new at each restart
                time.sleep(0.01)
        finally:
            stop.set()
            writer.join(timeout=30)
        assert not writer.is_alive()
        assert store.verify().ok
    assert len(salts) >= 3, f"the WAL restarted {len(salts) - 1} time(s) in 2.5 s of commits"


def test_triggers_reject_update_delete_and_truncate(backend: Backend) -> None:
    with backend.open() as store:
        fill(store, 3)
        store.record_access("auditor-1", "auditor", "list_events")
        attacks = ["UPDATE audit_events SET probability = 0.99 WHERE seq = 2",
                   "DELETE FROM audit_events WHERE seq = 3", "DELETE FROM audit_events",
                   "UPDATE audit_access SET action = 'x'", "DELETE FROM audit_meta"]
        if backend.dialect == "postgresql":
            attacks.append("TRUNCATE audit_events")
        for statement in attacks:
            with pytest.raises(DBAPIError, match="append-only"):
                backend.sql(statement)
        assert store.head()[0] == 3 and store.verify().ok


def test_tampered_row_is_named_exactly(backend: Backend) -> None:
    with backend.open() as store:
        events = fill(store, 10)
        backend.tamper("UPDATE audit_events SET probability = 0.01 WHERE seq = 7")
        report = store.verify()
        assert not report.ok
        assert report.first_broken_event_id == events[6].event_id
        assert report.chains["prediction"].broken_seq == 7
        assert "hash mismatch" in (report.chains["prediction"].reason or "")


def test_tamper_and_rechain_with_a_wrong_key_fails(backend: Backend) -> None:
    with backend.open() as store:
        events = fill(store, 10)
        backend.tamper("UPDATE audit_events SET risk_band = 'low' WHERE seq = 4")
        wrong = b"w" * 32  # the attacker has the DB, not the key
        prev = store.get_event(events[2].event_id).hash  # type: ignore[union-attr]
        updates = []
        for row in store.iter_rows(PREDICTION_CHAIN):
            if row["seq"] < 4:
                continue
            content = content_from_row(PREDICTION_CHAIN, row)
            digest = hmac_hex(wrong, chain_message(PREDICTION_CHAIN, row["seq"], row["key_id"],
                                                   prev, content))
            updates.append({"p": prev, "h": digest, "s": row["seq"]})
            prev = digest
        mark = "%s" if backend.dialect == "postgresql" else "?"
        update = f"UPDATE audit_events SET prev_hash = {mark}, hash = {mark} WHERE seq = {mark}"
        backend.tamper(*((update, (u["p"], u["h"], u["s"])) for u in updates))
        report = store.verify()
        assert not report.ok and report.first_broken_event_id == events[3].event_id


def test_deleting_newest_events_fails_against_checkpoint(backend: Backend) -> None:
    with backend.open() as store:
        fill(store, 25)
        store.checkpoint()
        backend.tamper("DELETE FROM audit_events WHERE seq > 21")
        report = store.verify()
        assert report.chains["prediction"].ok  # what is left still chains
        assert not report.ok
        assert any("truncated" in p for p in report.problems), str(report)


def test_invalid_checkpoint_signature_fails(backend: Backend) -> None:
    with backend.open() as store:
        fill(store, 3)
        store.checkpoint()
        path = store.checkpoints.chain_path
        text = path.read_text()
        assert '"prediction":[3,' in text
        path.write_text(text.replace('"prediction":[3,', '"prediction":[2,'))  # an older head
        report = store.verify()
        assert not report.ok
        assert any("signature invalid" in p for p in report.problems)


def test_append_many_is_atomic(backend: Backend) -> None:
    with backend.open() as store:
        first = fill(store, 3)
        batch = [event(store, 100 + i) for i in range(5)]
        batch[3] = event(store, 103, event_id=first[0].event_id)  # duplicate -> fails
        with pytest.raises(AuditWriteError) as info:
            store.append_many(batch)
        message = str(info.value)
        assert first[0].event_id not in message and "MRN" not in message
        assert store.patient_ref("MRN100") not in message
        assert store.head()[0] == 3
        stored = store.append_many([event(store, 200 + i) for i in range(5)])
        assert [s.seq for s in stored] == [4, 5, 6, 7, 8]
        assert store.verify().ok


def test_unserialisable_event_raises_audit_write_error(backend: Backend) -> None:
    with backend.open(read_only=False) as store:
        fill(store, 1)
    with backend.open(read_only=True) as reader, pytest.raises(AuditWriteError):
        reader.append(event(reader, 5))


def _writer(url: str, worker: int, n: int) -> None:
    with AuditStore(url) as store:
        for i in range(n):
            store.append(event(store, worker * 1000 + i))


def test_concurrent_writers_keep_one_chain(backend: Backend) -> None:
    with backend.open() as store:
        pass  # schema and keys exist before the workers start
    ctx = multiprocessing.get_context("spawn")  # no inherited DB connections
    procs = [ctx.Process(target=_writer, args=(backend.url, w, 50)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with backend.open() as store:
        rows = list(store.iter_rows(PREDICTION_CHAIN))
        assert [r["seq"] for r in rows] == list(range(1, 201))
        assert len({r["prev_hash"] for r in rows}) == 200  # no fork: each hash extended once
        assert all(b["prev_hash"] == a["hash"] for a, b in zip(rows, rows[1:], strict=False))
        report = store.verify()
        assert report.ok, str(report)
        assert report.chains["prediction"].rows_verified == 200


def test_export_archive_verifies_and_detects_truncation(backend: Backend) -> None:
    with backend.open() as store:
        fill(store, 8)
        out = backend.tmp / "archive.jsonl"
        assert export_archive(store, out, sub="auditor-1") == 9  # 8 + the export's access row
        keys, public = store.audit_keys, store.verify_keys
    assert verify_archive(out, keys, public).ok
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-3]) + "\n")
    assert not verify_archive(out, keys, public).ok


def test_key_rotation_keeps_old_rows_verifiable(backend: Backend) -> None:
    old = KeyRing.single("k-old", b"o" * 32)
    with backend.open(audit_keys=old) as store:
        fill(store, 3)
    both = KeyRing({"k-old": b"o" * 32, "k-new": b"n" * 32}, "k-new")
    with backend.open(audit_keys=both) as store:
        fill(store, 3)
        assert store.verify().ok
    with backend.open(audit_keys=KeyRing.single("k-new", b"n" * 32)) as store:
        assert not store.verify().ok


def test_cli_verify_exit_status(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    with backend.open() as store:
        fill(store, 5)
    assert cli(["verify", "--url", backend.url]) == 0
    assert "OK" in capsys.readouterr().out
    backend.tamper("UPDATE audit_events SET caller_sub = 'someone' WHERE seq = 2")
    assert cli(["verify", "--url", backend.url]) == 1
    assert "BROKEN at seq 2" in capsys.readouterr().out


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_postgres_keeps_prediction_rows_whole_in_the_table(backend: Backend) -> None:
    """A prediction row of a 45-feature model (~3 KB) is neither compressed nor moved to the
    TOAST table (migration 0004): TOASTing it cost the server more than the rest of its
    insert."""
    wide = {f"feature_{i:02d}": 0.123456789012345 + i for i in range(45)}
    with backend.open() as store:
        for i in range(5):
            store.append(event(store, i, features=wide, shap_values=dict(wide)))
        with store.engine.connect() as conn:
            row_bytes = conn.exec_driver_sql(
                "SELECT min(pg_column_size(e.*)) FROM audit_events e").scalar_one()
            toast = conn.exec_driver_sql(
                "SELECT reltoastrelid::regclass::text FROM pg_class "
                "WHERE oid = 'audit_events'::regclass").scalar_one()
            toasted = conn.exec_driver_sql(f"SELECT count(*) FROM {toast}").scalar_one()
    assert row_bytes > 2100  # past the default TOAST threshold: the setting is what keeps it
    assert toasted == 0


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_postgres_writer_outlives_a_dropped_connection(backend: Backend) -> None:
    """Writes take their connection from the pool on the driver (audit.database
    `write_transaction`): a connection the server dropped (restart, idle timeout) is
    replaced at check-out, so the next event is written, not refused."""
    name = f"audit_drop_{secrets.token_hex(4)}"
    url = make_url(backend.url).update_query_dict({"application_name": name})
    with AuditStore(url.render_as_string(hide_password=False)) as store:
        fill(store, 2)
        backend.sql(("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name = %s", (name,)))
        store.append(event(store, 10))
        assert store.head()[0] == 3
        assert store.verify().ok


def test_failed_write_leaves_the_next_one_whole(backend: Backend) -> None:
    """A write that fails inside its transaction rolls back on the driver and its connection
    is discarded: the next write reads the true head and commits."""
    with backend.open() as store:
        first = fill(store, 2)
        for _ in range(3):  # more failures than a pool would hide by chance
            with pytest.raises(AuditWriteError):
                store.append(event(store, 5, event_id=first[1].event_id))
        store.append(event(store, 6))
        assert [r["seq"] for r in store.iter_rows(PREDICTION_CHAIN)] == [1, 2, 3]
        assert store.verify().ok


def test_writes_reuse_the_connection_used_last(backend: Backend) -> None:
    """The pool hands a write the connection used last: a rotation over the connections the
    checkpoint threads (or readers) had opened found a cold page cache on each (SQLite
    empties a connection's cache once another one has written), ~3x the reads per commit."""
    with backend.open() as store:
        with store.engine.connect(), store.engine.connect():
            pass  # two idle connections in the pool, as after a reader met a write
        me, writes = threading.get_ident(), []

        def checked_out(dbapi_conn: object, _record: object, _proxy: object) -> None:
            if threading.get_ident() == me:  # the caller leads its own group: its thread
                writes.append(id(dbapi_conn))

        sa_event.listen(store.engine, "checkout", checked_out)
        for i in range(6):
            store.append(event(store, i))
        assert len(writes) == 6 and len(set(writes)) == 1
