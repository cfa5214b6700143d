"""Keys, keyed hashes and signed head checkpoints.

Keys live in files outside the database (default `var/keys/`, mode 0600), one
`<key id> <hex>` line per key; the last line is the current key, older lines
stay so rows signed before a rotation still verify. Key bytes are never put
in a repr, log line or exception message.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.canonical import canonical_json, format_ts

log = logging.getLogger(__name__)

KEY_BYTES = 32


@dataclass(frozen=True)
class AuditPaths:
    audit_key_file: Path
    patient_key_file: Path
    checkpoint_dir: Path


def default_paths() -> AuditPaths:
    """Key files and checkpoint folder from the settings (env overrides them there).

    Read afresh, not from the cached settings: key locations must follow the
    environment of the process that opens the store.
    """
    from config import Settings

    settings = Settings()
    return AuditPaths(
        audit_key_file=settings.audit_key_path,
        patient_key_file=settings.patient_key_path,
        checkpoint_dir=settings.checkpoint_path,
    )


def _new_key_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def _key_line(key_id: str, key: bytes) -> str:
    return f"{key_id} {key.hex()}\n"


@dataclass(frozen=True)
class KeyRing:
    """Named HMAC keys; `current_id` signs new rows, all ids verify old ones."""

    keys: Mapping[str, bytes] = field(repr=False)
    current_id: str

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise ValueError("current key id is not in the key ring")

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)

    @classmethod
    def single(cls, key_id: str, key: bytes) -> KeyRing:
        return cls({key_id: key}, key_id)

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        keys: dict[str, bytes] = {}
        current = ""
        for n, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                key_id, hex_key = line.split()
                key = bytes.fromhex(hex_key)
            except ValueError:
                raise ValueError(f"key file {path} line {n} is malformed") from None
            if len(key) < 16:
                raise ValueError(f"key file {path} line {n}: key shorter than 16 bytes")
            keys[key_id] = key
            current = key_id
        if not keys:
            raise ValueError(f"key file {path} holds no key")
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning("key file %s is readable by group or others; chmod 600 it", path)
        return cls(keys, current)

    @classmethod
    def load_or_create(cls, path: Path) -> KeyRing:
        """Read the key file, generating a random key on first use (race-safe)."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(_key_line(_new_key_id(), secrets.token_bytes(KEY_BYTES)))
                    fh.flush()
                    os.fsync(fh.fileno())
                try:
                    os.link(tmp, path)  # atomic; loses quietly to a concurrent creator
                    log.info("generated a new key file at %s", path)
                except FileExistsError:
                    pass
            finally:
                tmp.unlink(missing_ok=True)
        return cls.load(path)


def rotate_key(path: Path) -> str:
    """Append a fresh key (it becomes current) and return its id; old keys stay."""
    KeyRing.load_or_create(path)
    key_id = _new_key_id()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(fd, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(_key_line(key_id, secrets.token_bytes(KEY_BYTES)))
        fh.flush()
        os.fsync(fh.fileno())
    return key_id


def hmac_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class Surrogates:
    """Keyed pseudonyms for patient and course ids: `<key id>.<hmac hex>`.

    A separate key from the audit key, so publishing chain hashes or rotating
    the audit key does not touch pseudonyms (and vice versa).
    """

    def __init__(self, keyring: KeyRing) -> None:
        self._keys = keyring

    def _ref(self, domain: bytes, identifier: str) -> str:
        if not isinstance(identifier, str) or not identifier:
            raise ValueError(f"{domain.decode()} identifier must be a non-empty string")
        digest = hmac_hex(self._keys.current, domain + b"\x00" + identifier.encode("utf-8"))
        return f"{self._keys.current_id}.{digest}"

    def patient(self, patient_id: str) -> str:
        return self._ref(b"patient", patient_id)

    def course(self, course_id: str) -> str:
        return self._ref(b"course", course_id)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "chain X of store S had `seq` rows ending in `head`"."""

    store_id: str
    chain: str
    seq: int
    head: str
    ts: str
    key_id: str
    sig: str = ""

    def message(self) -> bytes:
        body = {"kind": "audit-checkpoint", "store_id": self.store_id, "chain": self.chain,
                "seq": self.seq, "head": self.head, "ts": self.ts, "key_id": self.key_id}
        return canonical_json(body).encode("ascii")

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        return cls(store_id=str(data["store_id"]), chain=str(data["chain"]),
                   seq=int(data["seq"]), head=str(data["head"]), ts=str(data["ts"]),
                   key_id=str(data["key_id"]), sig=str(data["sig"]))


def sign_checkpoint(keys: KeyRing, store_id: str, chain: str, seq: int, head: str) -> Checkpoint:
    cp = Checkpoint(store_id, chain, seq, head, format_ts(datetime.now(UTC)), keys.current_id)
    return Checkpoint(**{**cp.__dict__, "sig": hmac_hex(keys.current, cp.message())})


def checkpoint_valid(cp: Checkpoint, keys: KeyRing) -> bool:
    key = keys.get(cp.key_id)
    return key is not None and hmac.compare_digest(hmac_hex(key, cp.message()), cp.sig)


class CheckpointLog:
    """Append-only JSON-lines file of checkpoints for one store, outside the database."""

    def __init__(self, directory: Path, store_id: str) -> None:
        self.path = Path(directory) / f"{store_id}.jsonl"

    def append(self, cp: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one whole line per writer process
            os.write(fd, (cp.to_json() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[tuple[int, Checkpoint | None]]:
        """(line number, checkpoint) pairs; None marks a line that does not parse."""
        if not self.path.exists():
            return []
        out: list[tuple[int, Checkpoint | None]] = []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append((n, Checkpoint.from_dict(json.loads(line))))
            except (ValueError, KeyError, TypeError):
                out.append((n, None))
        return out
