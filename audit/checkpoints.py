"""The checkpoint chain: signed records of the chains' heads, outside the database.

One location per installation (`AUDIT_CHECKPOINT_DIR`; in production another
host's file system or write-once storage) holds:

- `chain.jsonl`: one record per line. Record 1 is the genesis, which pins the
  store id; each later record names the sha256 of the one before it and is
  signed (Ed25519) over its whole body. Kinds: `genesis`, `checkpoint` (heads
  moved), `key-retired` (an audit HMAC key retired at these heads) and
  `restore` (an operator acknowledged a restore from backup at these heads).
- `latest.json`: a copy of the newest record, replaced atomically after each
  append, so cutting whole records off the end of `chain.jsonl` is noticed.

Writers of several processes append under an exclusive lock on `.lock`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from audit.canonical import canonical_json, format_ts
from audit.signing import Signer, VerifyKeys

RecordKind = Literal["genesis", "checkpoint", "key-retired", "restore"]
Heads = dict[str, tuple[int, str]]  # chain -> (seq, hash) of its newest row
NO_RECORD = "0" * 64
CHAIN_FILE = "chain.jsonl"
LATEST_FILE = "latest.json"


@dataclass(frozen=True)
class Record:
    kind: RecordKind
    n: int
    prev: str
    store_id: str
    ts: str
    heads: Heads
    key_id: str
    detail: dict[str, Any] = field(default_factory=dict)
    sig: str = ""

    def body(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "prev": self.prev, "store_id": self.store_id,
                "ts": self.ts, "heads": {c: [s, h] for c, (s, h) in self.heads.items()},
                "key_id": self.key_id, "detail": self.detail}

    def message(self) -> bytes:
        return canonical_json({"signed": "audit-checkpoint-record/1", **self.body()}).encode()

    def line(self) -> str:
        return canonical_json({**self.body(), "sig": self.sig})

    @property
    def digest(self) -> str:
        """What the next record's `prev` names."""
        return hashlib.sha256(self.line().encode()).hexdigest()

    def signed_by(self, keys: VerifyKeys) -> bool:
        return keys.valid(self.key_id, self.message(), self.sig)

    @classmethod
    def parse(cls, text: str) -> Record:
        d = json.loads(text)
        return cls(kind=d["kind"], n=int(d["n"]), prev=str(d["prev"]), store_id=str(d["store_id"]),
                   ts=str(d["ts"]), heads={str(c): (int(v[0]), str(v[1]))
                                           for c, v in d["heads"].items()},
                   key_id=str(d["key_id"]), detail=dict(d.get("detail") or {}), sig=str(d["sig"]))


def make_record(signer: Signer, kind: RecordKind, after: Record | None, store_id: str,
                heads: Mapping[str, tuple[int, str]],
                detail: Mapping[str, Any] | None = None) -> Record:
    unsigned = Record(kind=kind, n=1 if after is None else after.n + 1,
                      prev=NO_RECORD if after is None else after.digest, store_id=store_id,
                      ts=format_ts(datetime.now(UTC)), heads=dict(heads), key_id=signer.key_id,
                      detail=dict(detail or {}))
    return replace(unsigned, sig=signer.sign(unsigned.message()))


@dataclass(frozen=True)
class Appended:
    """Where a record landed in chain.jsonl, to check later that it is still there."""

    record: Record
    offset: int
    length: int


class CheckpointLog:
    """The checkpoint location: append records, read them back."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.chain_path = self.dir / CHAIN_FILE
        self.latest_path = self.dir / LATEST_FILE

    def exists(self) -> bool:
        return self.chain_path.exists() or self.latest_path.exists()

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def latest(self) -> Record | None:
        """The newest record as latest.json states it; None if absent or unreadable."""
        try:
            return Record.parse(self.latest_path.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def append(self, record: Record) -> Appended:
        """Append one record (caller holds `locked()`), fsync, then replace latest.json."""
        data = (record.line() + "\n").encode()
        fd = os.open(self.chain_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            offset = os.fstat(fd).st_size
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp = self.latest_path.with_name(f".{LATEST_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(record.line())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.latest_path)
        return Appended(record, offset, len(data))

    def still_there(self, appended: Appended) -> bool:
        """Is the record we appended still at its place? (O(1): one seek and read.)"""
        try:
            with open(self.chain_path, "rb") as fh:
                fh.seek(appended.offset)
                return fh.read(appended.length) == (appended.record.line() + "\n").encode()
        except OSError:
            return False

    def read(self) -> list[tuple[int, Record | None]]:
        """(line number, record) pairs; None marks a line that does not parse."""
        if not self.chain_path.exists():
            return []
        out: list[tuple[int, Record | None]] = []
        for n, line in enumerate(self.chain_path.read_text().splitlines(), 1):
            try:
                out.append((n, Record.parse(line)))
            except (ValueError, KeyError, TypeError, IndexError):
                out.append((n, None))
        return out
