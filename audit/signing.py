"""Ed25519 keys that sign the checkpoint chain.

Asymmetric on purpose: the service holds the private key and signs; verifiers
and auditors hold only the public keys, so being able to verify never means
being able to forge. Both files use the key-ring format of `audit.chain`
(`<key id> <hex>` lines, the last one current): the private file holds raw
32-byte seeds, the public file the matching raw public keys, so a retired
signing key keeps verifying the records it signed.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.chain import KeyRing


@dataclass(frozen=True)
class Signer:
    """The current private signing key and its id."""

    key_id: str
    _key: Ed25519PrivateKey

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()

    @classmethod
    def load(cls, path: Path) -> Signer:
        ring = KeyRing.load(path)
        return cls(ring.current_id, Ed25519PrivateKey.from_private_bytes(ring.current))

    def __repr__(self) -> str:  # never the key bytes
        return f"Signer(key_id={self.key_id!r})"


@dataclass(frozen=True)
class VerifyKeys:
    """Public keys by id; what a verifier needs and all it needs."""

    keys: dict[str, Ed25519PublicKey]

    def valid(self, key_id: str, message: bytes, signature_hex: str) -> bool:
        key = self.keys.get(key_id)
        if key is None:
            return False
        try:
            key.verify(bytes.fromhex(signature_hex), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def load(cls, path: Path) -> VerifyKeys:
        ring = KeyRing.load(path, secret=False)  # public keys: anyone may read them
        return cls({kid: Ed25519PublicKey.from_public_bytes(raw) for kid, raw in ring.keys.items()})


def _write_new(path: Path, text: str, mode: int) -> None:
    """Create `path` with `text`; never overwrite (O_EXCL): a key is made once."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def create_signing_key(private_path: Path, public_path: Path) -> str:
    """A new Ed25519 key pair in two new files (private 0600, public 0644); its key id."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.generate()
    key_id = f"ed25519-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    _write_new(public_path, f"{key_id} {public.hex()}\n", 0o644)
    _write_new(private_path, f"{key_id} {seed.hex()}\n", 0o600)
    return key_id
