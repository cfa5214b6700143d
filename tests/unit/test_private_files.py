"""Files holding patient-derived data or secrets are created 0600; readable secrets stop start."""

from __future__ import annotations

import logging
import os

import pytest

from audit import AuditStore
from config import Settings
from serving.cds.feedback import FeedbackStore
from serving.cds.jti import JtiStore


def mode(path) -> int:  # noqa: ANN001
    return path.stat().st_mode & 0o777


@pytest.fixture(autouse=True)
def open_umask():
    """The usual 022 umask, under which the old code made everything world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_cds_databases_are_private(tmp_path):
    JtiStore(f"sqlite:///{tmp_path / 'cds' / 'cds-hooks.db'}").claim("iss", "j1", 2**31)
    FeedbackStore(f"sqlite:///{tmp_path / 'cds2.db'}")
    assert mode(tmp_path / "cds" / "cds-hooks.db") == 0o600
    assert mode(tmp_path / "cds") == 0o700
    assert mode(tmp_path / "cds2.db") == 0o600


def test_audit_database_and_its_wal_are_private(tmp_path, monkeypatch):
    from tests.audit_setup import installed

    with AuditStore(installed(monkeypatch, tmp_path)) as s:
        s.record_access("a", "auditor", "test")
        files = [p for p in tmp_path.iterdir() if p.name.startswith("audit.db")]
        assert len(files) >= 2 and {mode(p) for p in files} == {0o600}, files


def test_an_existing_file_is_narrowed_when_rewritten(tmp_path):
    from config.files import open_private

    path = tmp_path / "q.csv"
    path.write_text("old")
    os.chmod(path, 0o644)
    with open_private(path) as fh:
        fh.write("new")
    assert mode(path) == 0o600 and path.read_text() == "new"


@pytest.mark.parametrize("bits", [0o604, 0o620, 0o666, 0o601])
def test_a_secret_others_can_read_refuses_to_start(tmp_path, bits):
    from config.files import SecretFileError, check_secret_file
    from serving.startup import startup_checks

    secret = tmp_path / "keys" / "audit-hmac.key"
    secret.parent.mkdir()
    secret.write_text("k1 " + "ab" * 32 + "\n")
    os.chmod(secret, bits)
    with pytest.raises(SecretFileError, match="chmod 600"):
        check_secret_file(secret)
    with pytest.raises(SecretFileError):
        startup_checks(Settings(var_dir=tmp_path))


def test_private_and_public_files_pass(tmp_path, caplog):
    from serving.startup import startup_checks

    secret = tmp_path / "keys" / "jwt-hs256.key"
    secret.parent.mkdir()
    secret.write_text("x")
    os.chmod(secret, 0o600)
    jwks = tmp_path / "jwks.json"  # public: not a secret, never checked
    jwks.write_text("{}")
    os.chmod(jwks, 0o644)
    with caplog.at_level(logging.WARNING, logger="relapse_risk.startup"):
        startup_checks(Settings(var_dir=tmp_path))
    assert "DEMO FALLBACK" in caplog.text


def test_every_demo_fallback_is_named(tmp_path):
    from serving.startup import demo_fallbacks

    found = " | ".join(demo_fallbacks(Settings(var_dir=tmp_path)))
    for words in ("HS256 dev secret", "JWT_ISSUER", "dev-ehr", "CDS_AUDIENCE", "CDS_DB_URL",
                  "AUDIT_DB_URL"):
        assert words in found
