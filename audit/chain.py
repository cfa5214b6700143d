"""Audit HMAC keys, keyed hashes and patient surrogates.

Keys live in files outside the database (default `var/keys/`, mode 0600), one
`<key id> <hex>` line per key; the last line is the current key, older lines
stay so rows signed before a rotation still verify. Key bytes are never put
in a repr, log line or exception message.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

KEY_BYTES = 32


def require_key_file(path: Path, what: str) -> KeyRing:
    """Load a key file that must exist: a missing key is never silently recreated."""
    if not path.exists():
        raise MissingKeyError(
            f"{what} {path} is missing. It is never recreated on its own: restore it from "
            "backup (rows and checkpoints signed with it cannot be verified otherwise); "
            "`make audit-init` makes a new installation only where no database, key or "
            "checkpoint exists yet")
    try:
        return KeyRing.load(path)
    except (OSError, ValueError) as exc:
        raise MissingKeyError(f"{what} {path} unreadable ({type(exc).__name__})") from None


class MissingKeyError(RuntimeError):
    """A key file the installation needs is missing or unreadable."""


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
    def load(cls, path: Path, *, secret: bool = True) -> KeyRing:
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
        if secret and stat.S_IMODE(path.stat().st_mode) & 0o077:
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


class KeyFile:
    """A key file re-read when it changes, so a running writer picks up a rotation at its
    next write (one stat per write transaction)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self._what = what
        self._stamp: tuple[int, int] | None = None
        self._ring = self.current()

    def current(self) -> KeyRing:
        try:
            st = self.path.stat()
        except OSError:
            return require_key_file(self.path, self._what)  # raises MissingKeyError
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._ring, self._stamp = require_key_file(self.path, self._what), stamp
        return self._ring


def rotate_key(path: Path) -> str:
    """Append a fresh key (it becomes current) and return its id; old keys stay."""
    require_key_file(path, "audit key file")
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

    def _refs(self, domain: bytes, identifiers: Sequence[str]) -> list[str]:
        """`<key id>.` + HMAC(domain NUL identifier) of each: the keyed state of the domain
        prefix is computed once and copied per identifier (same bytes, same digest)."""
        prefix = hmac.new(self._keys.current, domain + b"\x00", hashlib.sha256)
        key_id = self._keys.current_id
        out = []
        for identifier in identifiers:
            if not isinstance(identifier, str) or not identifier:
                raise ValueError(f"{domain.decode()} identifier must be a non-empty string")
            h = prefix.copy()
            h.update(identifier.encode("utf-8"))
            out.append(f"{key_id}.{h.hexdigest()}")
        return out

    def patient(self, patient_id: str) -> str:
        return self._refs(b"patient", [patient_id])[0]

    def course(self, course_id: str) -> str:
        return self._refs(b"course", [course_id])[0]

    def patients(self, patient_ids: Sequence[str]) -> list[str]:
        return self._refs(b"patient", patient_ids)

    def courses(self, course_ids: Sequence[str]) -> list[str]:
        return self._refs(b"course", course_ids)
