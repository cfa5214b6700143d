"""Operator actions on an installation: init, migrate, key rotation, restore acknowledgement.

The service never runs these: it opens an existing store or stops. They run
with the owner's database URL (`AUDIT_OWNER_DB_URL`, default `AUDIT_DB_URL`)
and the signing key, and each leaves a signed record in the checkpoint chain
where it changes what verification expects.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from audit.chain import KeyRing, rotate_key
from audit.checkpoints import CheckpointLog, Record, make_record
from audit.database import (
    AuditError,
    dialect_of,
    grant_service_role,
    make_engine,
    migrate,
    read_store_id,
    safe_url,
)
from audit.events import GENESIS_HASH
from audit.paths import AuditPaths, default_paths
from audit.signing import Signer, create_signing_key
from audit.tables import CHAINS, HEAD_SQL

log = logging.getLogger(__name__)


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return Path(u.database) if u.get_backend_name() == "sqlite" and u.database else None


def database_exists(url: str) -> bool:
    """Does the store hold an audit schema (SQLite: is there a file at all)?"""
    path = _sqlite_file(url)
    if path is not None:
        return path.exists()
    engine = make_engine(url)
    try:
        read_store_id(engine, url)
        return True
    except AuditError:
        return False
    finally:
        engine.dispose()


def _new_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"init-{secrets.token_hex(4)} {secrets.token_bytes(32).hex()}\n")


@contextmanager
def _all_chains_locked(url: str) -> Iterator[Connection]:
    """A write transaction holding every chain's writer lock: no append can interleave."""
    engine = make_engine(url, must_exist=True)
    try:
        with engine.connect().execution_options(audit_write=True) as conn, conn.begin():
            if dialect_of(engine) == "postgresql":
                for chain in CHAINS:
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() "
                                      "|| :c))"), {"c": f"/audit-chain/{chain}"})
            yield conn
    finally:
        engine.dispose()


def _heads(conn: Connection) -> dict[str, tuple[int, str]]:
    out: dict[str, tuple[int, str]] = {}
    for chain in CHAINS:
        row = conn.exec_driver_sql(HEAD_SQL[chain]).first()
        out[chain] = (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))
    return out


def _append(paths: AuditPaths, kind: str, conn: Connection, store_id: str,
            detail: dict[str, object]) -> Record:
    log_ = CheckpointLog(paths.checkpoint_dir)
    signer = Signer.load(paths.signing_key_file)
    with log_.locked():
        latest = log_.latest()
        if kind != "genesis" and latest is None:
            raise AuditError(f"no checkpoint chain at {paths.checkpoint_dir}")
        record = make_record(signer, kind, latest, store_id, _heads(conn), detail)  # type: ignore[arg-type]
        log_.append(record)
    return record


def init_installation(url: str, paths: AuditPaths | None = None, *,
                      service_role: str = "") -> str:
    """A new installation: keys, schema, store id and the genesis record. Refuses if any
    part already exists (a missing part is restored from backup, never remade)."""
    paths = paths or default_paths()
    present = [str(p) for p in paths.existing()]
    if database_exists(url):
        present.insert(0, safe_url(url))
    if present:
        raise AuditError("an audit installation already exists here (" + ", ".join(present)
                         + "); `make audit-init` only makes a new one where nothing exists")
    _new_key_file(paths.audit_key_file)
    _new_key_file(paths.patient_key_file)
    create_signing_key(paths.signing_key_file, paths.verify_key_file)
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(audit_write=True) as conn, conn.begin():
            migrate(conn, dialect_of(engine))
            if service_role and dialect_of(engine) == "postgresql":
                grant_service_role(conn, service_role)
        store_id = read_store_id(engine, url)
    finally:
        engine.dispose()
    with _all_chains_locked(url) as conn:
        _append(paths, "genesis", conn, store_id, {})
    log.info("new audit installation: store %s", store_id)
    return store_id


def init_if_fresh(url: str, paths: AuditPaths | None = None, *, service_role: str = "") -> bool:
    """`init_installation` when nothing of an installation exists (a fresh clone); False when
    all of one does. Part of one is refused: what is missing is restored, never remade."""
    paths = paths or default_paths()
    present = paths.existing()
    has_db = database_exists(url)
    if not has_db and not present:
        init_installation(url, paths, service_role=service_role)
        return True
    log_ = CheckpointLog(paths.checkpoint_dir)
    missing = [str(p) for p in (paths.audit_key_file, paths.patient_key_file,
                                paths.signing_key_file, paths.verify_key_file,
                                log_.chain_path, log_.latest_path) if not p.exists()]
    if not has_db:
        missing.insert(0, f"the database {safe_url(url)}")
    if missing:
        raise AuditError(
            "part of an audit installation exists but " + ", ".join(missing) + " is missing: "
            "restore it from backup (`make audit-restore-ack` after a database restore); "
            "a store made before checkpoint chains needs `make audit-migrate`. Nothing was "
            "created")
    return False


def migrate_store(url: str, paths: AuditPaths | None = None, *, service_role: str = "") -> str:
    """Apply pending migrations as the owner and re-grant the service role. A store made
    before checkpoint chains existed is adopted: a signing key and a genesis record pinning
    its id and current heads (said out loud; run it only on a store you trust)."""
    paths = paths or default_paths()
    engine = make_engine(url, must_exist=True)
    try:
        with engine.connect().execution_options(audit_write=True) as conn, conn.begin():
            migrate(conn, dialect_of(engine))
            if service_role and dialect_of(engine) == "postgresql":
                grant_service_role(conn, service_role)
        store_id = read_store_id(engine, url)
    finally:
        engine.dispose()
    if not CheckpointLog(paths.checkpoint_dir).exists():
        if not paths.signing_key_file.exists():
            create_signing_key(paths.signing_key_file, paths.verify_key_file)
        with _all_chains_locked(url) as conn:
            _append(paths, "genesis", conn, store_id, {"adopted": True})
        log.warning("adopted existing audit store %s: genesis record at its current heads",
                    store_id)
    return store_id


def rotate_audit_key(url: str, paths: AuditPaths | None = None, *, by: str) -> tuple[str, str]:
    """A new current audit HMAC key; the old one is retired in the checkpoint chain at the
    heads of this moment, so a row it signs after them fails verification.

    Order matters: the new key is in the file before the chains are locked, and writers read
    the key under their chain's lock, so every append after the record uses the new key.
    """
    paths = paths or default_paths()
    old = KeyRing.load(paths.audit_key_file).current_id
    new = rotate_key(paths.audit_key_file)
    with _all_chains_locked(url) as conn:
        store_id = str(conn.execute(
            text("SELECT value FROM audit_meta WHERE name = 'store_id'")).scalar_one())
        _append(paths, "key-retired", conn, store_id, {"audit_key_id": old, "by": by})
    return old, new


def acknowledge_restore(url: str, paths: AuditPaths | None = None, *, by: str,
                        reason: str) -> Record:
    """After restoring the database from a backup: a signed record of the heads it now has.
    Verification then accepts that the events after them are gone (and says so), and binds
    every later append again."""
    paths = paths or default_paths()
    with _all_chains_locked(url) as conn:
        store_id = str(conn.execute(
            text("SELECT value FROM audit_meta WHERE name = 'store_id'")).scalar_one())
        pinned = CheckpointLog(paths.checkpoint_dir).latest()
        if pinned is not None and pinned.store_id != store_id:
            raise AuditError("the restored database is another store (its store id is not the "
                             "pinned one): restore this installation's own backup")
        return _append(paths, "restore", conn, store_id, {"by": by, "reason": reason})
