"""Bearer JWTs against the started server: each role, each kind of bad token, open routes."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.example_course import example_request
from serving.auth.keys import VerificationKeys, dev_keys, jwks_keys
from serving.auth.tokens import DEV_USER_ISSUER, TokenError, verify_bearer


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def hs256(project_settings, **overrides) -> str:
    keys = dev_keys(project_settings.var_dir / "keys" / "jwt-hs256.key")
    now = int(time.time())
    claims = {"sub": "dr-x", "role": "clinician", "aud": "relapse-risk", "iat": now,
              "exp": now + 600, "jti": "j-1", "iss": DEV_USER_ISSUER, **overrides}
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, keys.keys[keys.signing_kid], algorithm="HS256",
                      headers={"kid": keys.signing_kid})


def score(server, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server["url"] + "/score", json=example_request(), headers=headers, timeout=30)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda s: {}, None),
    (lambda s: {"Authorization": "Basic dXNlcjpwdw=="}, None),
    (lambda s: bearer("not-a-jwt"), "malformed token"),
    (lambda s: bearer(hs256(s, exp=int(time.time()) - 3600)), "token expired"),
    (lambda s: bearer(hs256(s, aud="another-service")), "wrong audience"),
    (lambda s: bearer(jwt.encode({"sub": "x", "role": "clinician", "aud": "relapse-risk",
                                  "iat": int(time.time()), "exp": int(time.time()) + 600},
                                 "guessed-secret-guessed-secret-32b", algorithm="HS256",
                                 headers={"kid": dev_keys(s.var_dir / "keys" / "jwt-hs256.key")
                                          .signing_kid})), "bad signature"),
    (lambda s: bearer(jwt.encode({"sub": "x", "role": "admin", "aud": "relapse-risk",
                                  "exp": int(time.time()) + 600}, None, algorithm="none")),
     "token algorithm not accepted"),
    (lambda s: bearer(hs256(s, exp=None)), "missing claim exp"),
])
def test_bad_tokens_get_401_with_www_authenticate(server, project_settings, make, reason):
    r = score(server, make(project_settings))
    assert r.status_code == 401, r.text
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="relapse-risk"')
    if reason:
        assert 'error="invalid_token"' in challenge and reason in r.json()["detail"]
    assert "predictions" not in r.text


@pytest.mark.parametrize(("role", "path", "method", "expected"), [
    ("clinician", "/score", "POST", 200),
    ("auditor", "/score", "POST", 403),
    ("admin", "/score", "POST", 403),
    ("auditor", "/explain", "POST", 403),
    ("clinician", "/model", "GET", 200),
    ("auditor", "/model", "GET", 200),
    ("admin", "/model", "GET", 200),
    ("clinician", "/model/reload", "POST", 403),
    ("auditor", "/model/reload", "POST", 403),
    ("admin", "/model/reload", "POST", 200),
    ("auditor", "/fhir/RiskAssessment/$score", "POST", 403),
])
def test_roles(server, token, role, path, method, expected):
    body = {"course": example_request()["courses"][0]} if path == "/explain" else example_request()
    r = httpx.request(method, server["url"] + path, headers=bearer(token(role)),
                      json=body if method == "POST" else None, timeout=30)
    assert r.status_code == expected, r.text


def test_unknown_role_is_403(server, project_settings):
    assert score(server, bearer(hs256(project_settings, role="superuser"))).status_code == 403


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/docs.json"])
def test_health_and_openapi_need_no_token(server, path):
    assert httpx.get(server["url"] + path, timeout=10).status_code == 200


def test_unknown_and_mounted_paths_are_guarded(server):
    for path in ("/model", "/audit/events", "/nope", "/cds-services/relapse-risk"):
        r = httpx.get(server["url"] + path, timeout=10)
        assert r.status_code == 401, path


def test_caller_identity_reaches_the_audit_trail(server, token, project_settings, monkeypatch):
    from audit import AuditStore

    r = score(server, bearer(token("clinician", "dr-audit-42")))
    assert r.status_code == 200
    monkeypatch.setenv("VAR_DIR", str(project_settings.var_dir))
    with AuditStore(f"sqlite:///{project_settings.var_dir / 'audit.db'}", read_only=True) as store:
        (event,) = [e for e in store.list_events(caller_sub="dr-audit-42")]
        stored = store.get_event(event.event_id)
        assert stored.request_id == r.json()["request_id"]
        assert (stored.caller_role, stored.endpoint) == ("clinician", "/score")


def test_dev_secret_is_private(server, project_settings):
    path = project_settings.var_dir / "keys" / "jwt-hs256.key"
    assert path.stat().st_mode & 0o077 == 0
    secret_hex = path.read_text().split()[-1]
    assert secret_hex not in server["log"].read_text()


# RS256 (production): verified without a server, against a JWKS file.

@pytest.fixture(scope="module")
def rsa_setup(tmp_path_factory):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    folder = tmp_path_factory.mktemp("idp")
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    (folder / "jwks.json").write_text(__import__("json").dumps({"keys": [{**jwk, "kid": "k1"}]}))
    return private, jwks_keys(folder / "jwks.json")


def rs256(private, **claims) -> str:
    now = int(time.time())
    base = {"sub": "dr-rs", "role": "auditor", "aud": "relapse-risk", "iat": now, "exp": now + 60}
    return jwt.encode({**base, **claims}, private, algorithm="RS256", headers={"kid": "k1"})


def test_rs256_jwks_verification(rsa_setup):
    private, keys = rsa_setup
    principal = verify_bearer(rs256(private), keys, audience="relapse-risk")
    assert (principal.sub, principal.role) == ("dr-rs", "auditor")
    with pytest.raises(TokenError, match="wrong audience"):
        verify_bearer(rs256(private, aud="x"), keys, audience="relapse-risk")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenError, match="bad signature"):
        verify_bearer(rs256(other), keys, audience="relapse-risk")


def test_rs256_refuses_hs256_signed_with_the_public_key(rsa_setup):
    """Algorithm confusion: the public key used as an HMAC secret must not verify."""
    private, keys = rsa_setup
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = jwt.encode({"sub": "x", "role": "admin", "aud": "relapse-risk",
                         "iat": int(time.time()), "exp": int(time.time()) + 60},
                        pem.decode()[:40] + "x" * 40, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(TokenError, match="algorithm"):
        verify_bearer(forged, keys, audience="relapse-risk")
    assert isinstance(keys, VerificationKeys) and keys.algorithms == ("RS256",)
