"""Test set-up of audit installations: every key and the checkpoint chain under one folder.

Tests make an installation the way `make audit-init` does (the store never
creates itself); the environment points every key file at the test's folder,
so no test reads or writes the project's var/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.installation import init_installation
from audit.paths import AuditPaths, default_paths

ENV_FILES = {
    "AUDIT_HMAC_KEY_FILE": "keys/audit-hmac.key",
    "PATIENT_KEY_FILE": "keys/patient.key",
    "AUDIT_SIGNING_KEY_FILE": "keys/checkpoint-signing.key",
    "AUDIT_VERIFY_KEY_FILE": "keys/checkpoint-verify.pub",
    "AUDIT_CHECKPOINT_DIR": "checkpoints",
}


def audit_env(monkeypatch: pytest.MonkeyPatch, root: Path) -> AuditPaths:
    """Point every audit key file and the checkpoint location under `root`."""
    for name, relative in ENV_FILES.items():
        monkeypatch.setenv(name, str(root / relative))
    return default_paths()


def installed(monkeypatch: pytest.MonkeyPatch, root: Path, url: str | None = None) -> str:
    """A new installation under `root` (SQLite there unless `url`); returns its URL."""
    paths = audit_env(monkeypatch, root)
    url = url or f"sqlite:///{root / 'audit.db'}"
    init_installation(url, paths)
    return url
