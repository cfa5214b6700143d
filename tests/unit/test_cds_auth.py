"""EHR token checks without a server: configured audience only, dev issuer only on the demo path."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from config import Settings
from serving.auth.keys import dev_keys
from serving.auth.tokens import TokenError
from serving.cds.auth import DEV_ISSUER, CdsAuthenticator

SERVICE = "/cds-services/relapse-risk"


def scope(host: str = "127.0.0.1:3000", path: str = SERVICE) -> dict:
    return {"type": "http", "path": path, "scheme": "http", "headers": [(b"host", host.encode())]}


def dev_ehr_token(settings: Settings, aud: str, **claims: object) -> str:
    keys = dev_keys(settings.jwt_secret_path)
    now = int(time.time())
    body = {"iss": DEV_ISSUER, "sub": "ehr", "aud": aud, "iat": now, "exp": now + 300,
            "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(body, keys.keys[keys.signing_kid], algorithm="HS256",
                      headers={"kid": keys.signing_kid})


@pytest.fixture
def demo(tmp_path) -> Settings:
    return Settings(var_dir=tmp_path, service_url="https://risk.hospital.example")


def test_audience_is_the_configured_url_whatever_the_host_header(demo):
    auth = CdsAuthenticator.from_settings(demo)
    ours = "https://risk.hospital.example" + SERVICE
    assert auth(scope(), dev_ehr_token(demo, ours)).sub == DEV_ISSUER
    foreign = "http://evil.example" + SERVICE
    with pytest.raises(TokenError, match="wrong audience"):
        auth(scope(host="evil.example"), dev_ehr_token(demo, foreign))
    feedback = scope(path=SERVICE + "/feedback")
    assert auth(feedback, dev_ehr_token(demo, ours + "/feedback")).sub == DEV_ISSUER


def test_cds_audience_setting_overrides_the_service_url(tmp_path):
    settings = Settings(var_dir=tmp_path, cds_audience="https://a.example/x, https://b.example/y")
    auth = CdsAuthenticator.from_settings(settings)
    assert auth(scope(), dev_ehr_token(settings, "https://b.example/y"))
    with pytest.raises(TokenError, match="wrong audience"):
        auth(scope(), dev_ehr_token(settings, "http://127.0.0.1:3000" + SERVICE))


def test_dev_ehr_is_refused_once_asymmetric_user_keys_are_configured(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    settings = Settings(var_dir=tmp_path, jwt_jwks_file=tmp_path / "jwks.json")
    auth = CdsAuthenticator.from_settings(settings)
    token = dev_ehr_token(settings, settings.cds_audiences[0])
    with pytest.raises(TokenError, match="issuer not allowed"):
        auth(scope(), token)


def test_ehr_token_lifetime_is_capped(demo):
    auth = CdsAuthenticator.from_settings(demo)
    now = int(time.time())
    token = dev_ehr_token(demo, demo.cds_audiences[0], iat=now, exp=now + 24 * 3600)
    with pytest.raises(TokenError, match="lifetime"):
        auth(scope(), token)
