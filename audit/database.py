"""The audit database: engine set-up, schema migrations and the store id.

Writers take the write lock at BEGIN (SQLite: BEGIN IMMEDIATE; PostgreSQL:
an advisory lock per chain, taken by the writer) so the head they read stays
the head. Error texts carry the driver's error class and code only: driver
messages can echo row values.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from audit.group_commit import WriterBusy
from config.files import private_sqlite

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class AuditError(RuntimeError):
    """The audit store cannot be opened or read."""


class AuditWriteError(AuditError):
    """An audit event was not durably written; the caller must not answer 200."""


def describe(exc: BaseException) -> str:
    """Error class and code only: driver messages can echo row values."""
    orig = getattr(exc, "orig", None) or exc
    code = (getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None) or "")
    return f"{type(orig).__name__}{f' [{code}]' if code else ''}"


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# SQLite page cache per connection (KiB when negative). A 10k-course chunk is ~35 MB of rows
# and six indexes; with the default 2 MB, the pages a transaction dirties are spilled to the
# WAL and rewritten many times before it commits (insert ~2.5x slower, bench/NOTES.md).
SQLITE_CACHE_KIB = 65536


def make_engine(url: str, *, must_exist: bool = False,
                background_wal_checkpoints: bool = False) -> Engine:
    """An engine for `url`, its pool last-in first-out: a write takes the connection used
    last, whose page cache is warm. The default (first-in first-out) rotated the writes
    of a store over the connections its checkpoint threads had also opened; each SQLite
    connection that another one wrote behind empties its cache, so a single-row commit
    re-read ~34 pages from the file instead of ~10 (strace, bench/NOTES.md session 7).

    `must_exist`: refuse a SQLite file that is not there (connecting would create an
    empty one, and a service must never create its own store).
    `background_wal_checkpoints`: SQLite's commits leave the WAL to the caller's own
    checkpoint thread (`wal_checkpoint`) instead of copying it into the database file
    themselves when it passes 1000 pages."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if must_exist and database not in (None, "", ":memory:") and not Path(database).exists():
            raise AuditError(f"no audit database at {safe_url(url)}: restore it from backup "
                             "(`make audit-init` only makes a new installation)")
        if not must_exist:
            private_sqlite(url)  # a new store: 0600 before SQLite creates it with the umask's
        engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 60},
                               pool_use_lifo=True)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=60000",
                           f"cache_size=-{SQLITE_CACHE_KIB}"):
                dbapi_conn.execute(f"PRAGMA {pragma}")
            if background_wal_checkpoints:
                dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front so the head they read stays the head.
            write = conn.get_execution_options().get("audit_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_use_lifo=True)


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Any]:
    """A DB-API cursor in a write transaction on a pooled connection; committed when the
    block ends, rolled back (and the connection discarded) when it raises.

    Why the driver and not a SQLAlchemy Connection: a single-course /score commits one
    row per request, and SQLAlchemy's connection, transaction, event and result objects
    around its three statements cost about a quarter of that write's CPU (bench/NOTES.md
    "The write transaction on the driver"). The pool still hands the connection out: its
    connect pragmas and PostgreSQL's pre-ping are unchanged. SQLite takes the write lock
    at BEGIN IMMEDIATE, as `_on_begin` does for the other writers.
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        yield cursor
        raw.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            raw.rollback()
        raw.invalidate()  # a connection in an unknown state never goes back to the pool
        raise
    finally:
        raw.close()


@functools.cache
def _writer_lock_file(url: str) -> str | None:
    database = make_url(url).database if url.startswith("sqlite") else None
    return None if not database or database == ":memory:" else f"{database}-writer.lock"


@contextlib.contextmanager
def writer_turn(url: str, *, wait: bool = True) -> Iterator[None]:
    """Hold the store's writer lock file (`<database>-writer.lock`) for one write
    transaction; for PostgreSQL and in-memory SQLite a no-op.

    Why: writers of several processes (the service's workers, a batch job) that meet on
    SQLite's write lock wait in its busy handler, which sleeps 1, 2, 5 ... 100 ms between
    tries instead of waking when the lock frees: under load a 2 ms transaction waited up
    to hundreds of ms. `flock` queues them in the kernel and wakes the next at once. A
    new descriptor per turn, so threads of one process also queue (flock locks belong to
    the open file). SQLite's own lock stays the guarantee; this only orders the waiters.
    `wait=False`: WriterBusy at once where another writer holds the turn.
    """
    lock_file = _writer_lock_file(url)  # parsed once per URL: this runs per transaction
    if lock_file is None:
        yield
        return
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriterBusy("another writer holds the audit store") from None
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def wal_checkpoint(engine: Engine, url: str) -> None:
    """Copy committed WAL frames into the SQLite database file: the bulk beside the writers,
    then what they committed meanwhile in a writer turn of its own, so that the copy is
    complete and the next commit starts the WAL again from its beginning. PASSIVE both
    times: frames a reader still needs wait for the next checkpoint; readers never wait.

    Why the second pass: under a steady stream of commits every pass ended with new frames
    behind it, so SQLite never restarted the WAL and its file grew for as long as the store
    stayed open (590 MB in a minute of the bench's 100-course /score load, 35 MB with the
    second pass; bench/NOTES.md, session 10). It holds the writers back only while it
    copies the frames of the last moments."""
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    # A connection of its own, taken once the turn is ours: no snapshot waits for the lock.
    with writer_turn(url), engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def dialect_of(engine: Engine) -> str:
    return "postgresql" if engine.dialect.name == "postgresql" else "sqlite"


def migrate(conn: Connection, dialect: str) -> bool:
    """Apply pending migrations/<dialect>/NNNN_*.sql in the open write transaction `conn`;
    True if the store was created (a new store id)."""
    files = sorted((MIGRATIONS_DIR / dialect).glob("[0-9][0-9][0-9][0-9]_*.sql"))
    if dialect == "postgresql":
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
        _run_script(conn, dialect, path.read_text())
        conn.execute(text("INSERT INTO schema_version (version, name, applied_at) "
                          "VALUES (:v, :n, :t)"),
                     {"v": version, "n": path.name, "t": datetime.now(UTC).isoformat()})
        log.info("applied audit migration %s", path.name)
    if conn.execute(text("SELECT 1 FROM audit_meta WHERE name = 'store_id'")).first():
        return False
    conn.execute(text("INSERT INTO audit_meta (name, value) VALUES ('store_id', :v)"),
                 {"v": uuid.uuid4().hex})
    return True


def grant_service_role(conn: Connection, role: str) -> None:
    """PostgreSQL: the service role may read and append, nothing else (no UPDATE, DELETE,
    TRUNCATE, DROP or ALTER: it owns nothing). Run by the owner after every migration."""
    quoted = conn.dialect.identifier_preparer.quote
    schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {quoted(schema)} TO {quoted(role)}")
    conn.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {quoted(schema)} FROM {quoted(role)}")
    conn.exec_driver_sql(
        f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {quoted(schema)} TO {quoted(role)}")


def pending_migrations(conn: Connection, dialect: str) -> list[str]:
    """Migration files not yet applied (all of them when there is no schema)."""
    files = sorted(p.name for p in (MIGRATIONS_DIR / dialect).glob("[0-9][0-9][0-9][0-9]_*.sql"))
    try:
        done = {int(r[0]) for r in conn.exec_driver_sql("SELECT version FROM schema_version")}
    except SQLAlchemyError:
        conn.rollback()
        return files
    return [name for name in files if int(name[:4]) not in done]


_TRIGGER = re.compile(r"CREATE TRIGGER (\w+)\s+BEFORE\s+[\w\s]+?\s+ON\s+(\w+)", re.IGNORECASE)


def expected_triggers(dialect: str) -> dict[str, str]:
    """Every append-only trigger the migrations create, and the table it guards."""
    return {name: table for path in (MIGRATIONS_DIR / dialect).glob("*.sql")
            for name, table in _TRIGGER.findall(path.read_text())}


def trigger_problems(conn: Connection, dialect: str) -> list[str]:
    """Append-only triggers missing or disabled: the guard against UPDATE/DELETE is gone."""
    if dialect == "postgresql":
        rows = conn.execute(text(
            "SELECT t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"))
        present = {str(r[0]): str(r[1]) != "D" for r in rows}
    else:
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {str(r[0]): True for r in rows}
    tables = set(inspect(conn).get_table_names())
    out = []
    for name, table in sorted(expected_triggers(dialect).items()):
        if table not in tables:
            continue  # a store from before that table's migration
        if name not in present:
            out.append(f"append-only trigger {name} missing (dropped)")
        elif not present[name]:
            out.append(f"append-only trigger {name} disabled")
    return out


def _run_script(conn: Connection, dialect: str, script: str) -> None:
    if dialect == "postgresql":
        conn.connection.driver_connection.execute(script)  # type: ignore[union-attr]
        return
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):  # knows trigger BEGIN ... END
            conn.exec_driver_sql(statement)
            statement = ""


def read_store_id(engine: Engine, url: str) -> str:
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT value FROM audit_meta WHERE name = 'store_id'")).first()
    except SQLAlchemyError as exc:
        raise AuditError(f"no audit schema at {safe_url(url)} ({describe(exc)})") from None
    if row is None:
        raise AuditError(f"audit store at {safe_url(url)} has no store id")
    return str(row[0])
