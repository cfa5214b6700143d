"""Private files: what the service and jobs create holds patient-derived data or secrets.

The default umask (022) makes new files world-readable: `var/audit.db`, the CDS
Hooks database, quarantine CSVs (raw patient ids) and batch output were. Every
writer of such a file goes through here: directories 0700, files 0600, and a
file that already exists is narrowed to 0600 too (ours, so we may).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


class SecretFileError(RuntimeError):
    """A secret file other users can read or change: the service refuses to start."""


def private_dir(path: Path) -> Path:
    """`path` as a directory; created 0700 (parents too) when missing."""
    missing = not path.exists()
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if missing:
        os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def private_file(path: Path) -> Path:
    """`path` exists as a file only its owner can read (created empty when missing)."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        os.chmod(path, FILE_MODE)
    return path


@contextmanager
def open_private(path: Path, mode: str = "w") -> Iterator[IO[str]]:
    """A text file opened for writing ("w") or appending ("a"), 0600 whatever the umask."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    private_dir(path.parent)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode otherwise
    with os.fdopen(fd, mode, newline="") as fh:
        yield fh


def sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///") or url in ("sqlite:///", "sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def private_sqlite(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (it would use the umask);
    SQLite gives its -wal and -shm files the database file's mode."""
    path = sqlite_file(url)
    if path is not None:
        private_file(path)


def check_secret_file(path: Path) -> None:
    """Refuse a secret (HMAC key, HS256 secret, private key, scrape token) that others can
    read or anyone but the owner's group can write; public PEM and JWKS files are not
    secrets and are not checked. A missing file is not an error here."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o027:
        raise SecretFileError(f"secret file {path} has mode {mode:o}: others can read it "
                              f"or its group can write it; chmod 600 (Kubernetes: "
                              f"defaultMode 0400)")
    if mode & 0o040:
        log.warning("secret file %s is group-readable (mode %o)", path, mode)
