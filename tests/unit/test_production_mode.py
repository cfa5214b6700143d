"""Production mode: when it is on, and that it names every demo fallback it refuses."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from config import Settings
from serving.auth.keys import KeyConfigError, load_verification_keys
from serving.production import (
    ProductionConfigError,
    check_production,
    missing_for_production,
    production_mode,
)
from serving.startup import startup_checks


@pytest.fixture
def jwks(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    path = tmp_path / "idp.jwks"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "idp-1"}]}))
    return path


def complete(tmp_path, jwks, **changes) -> Settings:
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"https://ehr.example": {"jwks_file": str(jwks)}}))
    values = dict(var_dir=tmp_path / "var", app_env="production", jwt_jwks_file=jwks,
                  jwt_issuer="https://idp.example", cds_audience="https://risk.example/cds",
                  cds_issuers_file=issuers, cds_db_url="postgresql+psycopg://svc@db/cds",
                  audit_db_url="postgresql+psycopg://svc@db/audit",
                  audit_checkpoint_dir=tmp_path / "worm" / "checkpoints")
    return Settings(**{**values, **changes})


def test_on_by_app_env_or_asymmetric_keys_never_by_an_issuers_file_alone(tmp_path, jwks):
    assert not production_mode(Settings(var_dir=tmp_path))
    assert not production_mode(Settings(var_dir=tmp_path, cds_issuers_file=tmp_path / "i.json"))
    assert production_mode(Settings(var_dir=tmp_path, app_env="production"))
    assert production_mode(Settings(var_dir=tmp_path, jwt_jwks_file=jwks))
    assert production_mode(Settings(var_dir=tmp_path, jwt_public_keys="a.pem"))


def test_every_missing_setting_is_named_at_once(tmp_path):
    settings = Settings(var_dir=tmp_path, app_env="production")
    with pytest.raises(ProductionConfigError) as refused:
        check_production(settings)
    message = str(refused.value)
    for name in ("JWT_JWKS_FILE or JWT_PUBLIC_KEYS", "JWT_ISSUER", "CDS_AUDIENCE",
                 "CDS_ISSUERS_FILE", "CDS_DB_URL", "AUDIT_DB_URL", "AUDIT_CHECKPOINT_DIR"):
        assert name in message
    with pytest.raises(ProductionConfigError):
        startup_checks(settings)  # the service's start calls it


@pytest.mark.parametrize(("change", "named"), [
    ({"jwt_issuer": ""}, "JWT_ISSUER"),
    ({"cds_audience": ""}, "CDS_AUDIENCE"),
    ({"cds_issuers_file": None}, "CDS_ISSUERS_FILE"),
    ({"cds_db_url": "sqlite:////srv/cds.db"}, "CDS_DB_URL"),
    ({"audit_db_url": "sqlite:////srv/audit.db"}, "AUDIT_DB_URL on PostgreSQL"),
    ({"audit_checkpoint_dir": None}, "AUDIT_CHECKPOINT_DIR"),
    ({"audit_checkpoint_dir": "var/checkpoints"}, "AUDIT_CHECKPOINT_DIR"),
])
def test_each_single_gap_is_refused(tmp_path, jwks, change, named):
    if change.get("audit_checkpoint_dir") == "var/checkpoints":
        change = {"audit_checkpoint_dir": tmp_path / "var" / "checkpoints"}
    missing = missing_for_production(complete(tmp_path, jwks, **change), lambda url: [])
    assert len(missing) == 1 and named in missing[0], missing


def test_an_audit_role_that_can_rewrite_rows_is_refused(tmp_path, jwks):
    settings = complete(tmp_path, jwks)
    assert missing_for_production(settings, lambda url: []) == []
    found = missing_for_production(settings, lambda url: ["the role may UPDATE audit_events"])
    assert found == ["AUDIT_DB_URL with the INSERT/SELECT-only audit role: "
                     "the role may UPDATE audit_events"]


def test_production_never_falls_back_to_the_dev_secret(tmp_path):
    with pytest.raises(KeyConfigError, match="JWT_JWKS_FILE"):
        load_verification_keys(Settings(var_dir=tmp_path, app_env="production"))
    assert not (tmp_path / "keys" / "jwt-hs256.key").exists()
