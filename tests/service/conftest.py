"""A real BentoML server on a free loopback port, serving the model trained in the session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.common import stop_server

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


EHR_ISSUER = "https://ehr.test.example"


@pytest.fixture(scope="session")
def ehr_key(tmp_path_factory) -> dict:
    """An EHR's RS256 key pair; the server trusts its JWKS through CDS_ISSUERS_FILE."""
    import json

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    folder = tmp_path_factory.mktemp("ehr")
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (folder / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "ehr-1",
                                                            "alg": "RS384", "use": "sig"}]}))
    issuers = folder / "issuers.json"
    issuers.write_text(json.dumps({EHR_ISSUER: {"jwks_file": "jwks.json"}}))
    return {"issuer": EHR_ISSUER, "private": private, "kid": "ehr-1", "issuers_file": issuers}


@pytest.fixture(scope="session")
def token(project_settings):
    """token(role, sub=..., **claims): a bearer token the started server accepts (dev HS256)."""
    from serving.auth.keys import dev_keys
    from serving.auth.tokens import issue_dev_token

    keys = dev_keys(project_settings.var_dir / "keys" / "jwt-hs256.key")

    def make(role: str = "clinician", sub: str | None = None) -> str:
        return issue_dev_token(keys, role=role, sub=sub or f"test-{role}", audience="relapse-risk")

    return make


@pytest.fixture(scope="session")
def server(champion_dir, project_settings, tmp_path_factory, ehr_key, token):
    from audit import init_if_fresh
    from audit.paths import AuditPaths

    # What `make serve` does first: the service itself never creates an audit store.
    init_if_fresh(project_settings.audit_url, AuditPaths.under(project_settings.var_dir))
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MODELS_DIR": str(project_settings.models_dir),
           "VAR_DIR": str(project_settings.var_dir), "BENTOML_HOME": str(log_path.parent / "bento"),
           "CDS_ISSUERS_FILE": str(ehr_key["issuers_file"]),
           "SERVICE_URL": base}  # EHR tokens' aud: the configured URL, never the Host header
    for name in ("JWT_JWKS_FILE", "JWT_PUBLIC_KEYS", "JWT_ISSUER", "JWT_AUDIENCE", "CDS_AUDIENCE",
                 "APP_ENV", "METRICS_TOKEN_FILE", "AUDIT_DB_URL", "CDS_DB_URL"):
        env.pop(name, None)  # the tests mint dev HS256 tokens for audience relapse-risk
    bentoml = Path(sys.executable).parent / "bentoml"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(bentoml), "serve", "serving.service:RelapseRiskService", "--host", "127.0.0.1",
             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: workers stop with it
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + log_path.read_text()[-3000:])
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        stop_server(proc, timeout=20)
        raise RuntimeError("server not ready in 120 s:\n" + log_path.read_text()[-3000:])
    # "auth": headers of a clinician, the role /score needs
    yield {"url": base, "log": log_path, "port": port,
           "auth": {"Authorization": f"Bearer {token('clinician', 'test-clinician')}"}}
    stop_server(proc, timeout=20)
