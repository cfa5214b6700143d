"""The service in production mode against the PostgreSQL at 127.0.0.1:5432 (issue 15).

One start with every production setting: the audit store reached through an
INSERT/SELECT-only role, EHR and user tokens asymmetric, dev tokens and dev-ehr
refused. One start with a demo fallback left in: the worker refuses to start
and names it, and the server never becomes ready.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.common import stop_server
from devtools.example_course import example_request
from tests.service.conftest import ROOT, free_port
from tests.service.test_audit_store import PG_DEFAULT
from tests.service.test_cds import SERVICE, hook

pytestmark = pytest.mark.postgres
IDP = "https://idp.hospital.example"


def _url(base: str, schema: str, user: str | None = None) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return (url.set(username=user) if user else url).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory) -> Iterator[dict]:
    """An audit installation made by its owner (`make audit-init`) with a service role
    granted INSERT and SELECT only, and a CDS Hooks schema; dropped afterwards."""
    from audit.installation import init_installation
    from audit.paths import AuditPaths
    from tests.audit_setup import ENV_FILES

    base = os.environ.get("AUDIT_PG_URL") or PG_DEFAULT
    if base == "skip":
        pytest.skip("AUDIT_PG_URL=skip")
    tag = secrets.token_hex(4)
    audit_schema, cds_schema, role = f"prod_audit_{tag}", f"prod_cds_{tag}", f"prod_svc_{tag}"
    folder = tmp_path_factory.mktemp("prod")
    # Keys and the checkpoint chain outside the service's var/ (folder/var below).
    keys = {name: str(folder / "secrets" / relative) for name, relative in ENV_FILES.items()}
    admin = create_engine(base)
    with admin.begin() as conn:
        for schema in (audit_schema, cds_schema):
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    paths = AuditPaths(audit_key_file=Path(keys["AUDIT_HMAC_KEY_FILE"]),
                       patient_key_file=Path(keys["PATIENT_KEY_FILE"]),
                       signing_key_file=Path(keys["AUDIT_SIGNING_KEY_FILE"]),
                       verify_key_file=Path(keys["AUDIT_VERIFY_KEY_FILE"]),
                       checkpoint_dir=Path(keys["AUDIT_CHECKPOINT_DIR"]))
    try:
        init_installation(_url(base, audit_schema), paths, service_role=role)
        yield {"audit": _url(base, audit_schema, role), "owner": _url(base, audit_schema),
               "cds": _url(base, cds_schema), "keys": keys, "folder": folder, "paths": paths}
    finally:
        with admin.begin() as conn:
            for schema in (audit_schema, cds_schema):
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> dict:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    path = tmp_path_factory.mktemp("idp") / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "idp-1"}]}))
    return {"private": private, "jwks": path}


def user_token(idp: dict, role: str = "clinician") -> str:
    now = int(time.time())
    claims = {"sub": "dr-prod", "role": role, "aud": "relapse-risk", "iss": IDP, "iat": now,
              "exp": now + 600, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, idp["private"], algorithm="RS256", headers={"kid": "idp-1"})


def start(env_changes: dict[str, str], project_settings, folder: Path, port: int,
          ) -> tuple[subprocess.Popen, str, Path]:
    log_path = folder / f"server-{port}.log"
    env = {**os.environ, "MODELS_DIR": str(project_settings.models_dir),
           "BENTOML_HOME": str(folder / f"bento-{port}"), **env_changes}
    for name in ("JWT_PUBLIC_KEYS", "JWT_AUDIENCE", "METRICS_TOKEN_FILE"):
        env.pop(name, None)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "bentoml"), "serve",
             "serving.service:RelapseRiskService", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}", log_path


def wait_ready(proc: subprocess.Popen, base: str, log_path: Path, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if "refuses to start" in log_path.read_text():
            return False
        time.sleep(0.5)
    return False


def production_env(postgres: dict, idp: dict, ehr_key: dict, base_url: str) -> dict[str, str]:
    return {**postgres["keys"], "APP_ENV": "production", "VAR_DIR": str(postgres["folder"] / "var"),
            "JWT_JWKS_FILE": str(idp["jwks"]), "JWT_ISSUER": IDP,
            "CDS_ISSUERS_FILE": str(ehr_key["issuers_file"]), "CDS_AUDIENCE": base_url + SERVICE,
            "CDS_DB_URL": postgres["cds"], "AUDIT_DB_URL": postgres["audit"]}


def test_production_mode_serves_with_every_setting_and_refuses_dev_tokens(
        postgres, idp, ehr_key, champion_dir, project_settings):
    from serving.auth.keys import dev_keys
    from serving.auth.tokens import issue_dev_token
    from tests.service.test_cds import ehr_jwt

    port = free_port()  # known before start: CDS_AUDIENCE names the URL
    env = production_env(postgres, idp, ehr_key, f"http://127.0.0.1:{port}")
    proc, base, log_path = start(env, project_settings, postgres["folder"], port)
    try:
        assert wait_ready(proc, base, log_path), log_path.read_text()[-3000:]
        log = log_path.read_text()
        assert "DEMO FALLBACK" not in log
        scored = httpx.post(base + "/score", json=example_request(), timeout=60,
                            headers={"Authorization": f"Bearer {user_token(idp)}"})
        assert scored.status_code == 200, scored.text
        dev = issue_dev_token(dev_keys(project_settings.var_dir / "keys" / "jwt-hs256.key"),
                              role="clinician", sub="dev", audience="relapse-risk")
        refused = httpx.post(base + "/score", json=example_request(), timeout=30,
                             headers={"Authorization": f"Bearer {dev}"})
        assert refused.status_code == 401
        server = {"url": base}
        card = httpx.post(base + SERVICE, json=hook(), timeout=60, headers={
            "Authorization": f"Bearer {ehr_jwt(server, ehr_key)}"})
        assert card.status_code == 200, card.text
        from devtools.token import ehr_token  # the dev EHR, signed with the dev secret

        dev_ehr = httpx.post(base + SERVICE, json=hook(), timeout=30, headers={
            "Authorization": f"Bearer {ehr_token(base + SERVICE)}"})
        assert dev_ehr.status_code == 401 and "issuer not allowed" in dev_ehr.text
        from audit import AuditStore

        with AuditStore(postgres["owner"], paths=postgres["paths"], read_only=True) as store:
            assert {e.caller_sub for e in store.list_events()} >= {"dr-prod"}
            assert store.verify().ok
    finally:
        stop_server(proc, timeout=20)


def test_production_mode_refuses_to_start_and_names_what_is_missing(
        postgres, idp, ehr_key, champion_dir, project_settings):
    """The audit store reached as its owner (a superuser here), and no shared jti database."""
    env = {**production_env(postgres, idp, ehr_key, "http://127.0.0.1:1"),
           "AUDIT_DB_URL": postgres["owner"], "CDS_DB_URL": ""}
    proc, base, log_path = start(env, project_settings, postgres["folder"], free_port())
    try:
        assert not wait_ready(proc, base, log_path, timeout=90)
        log = log_path.read_text()
        assert "refuses to start" in log, log[-2000:]
        assert "AUDIT_DB_URL with the INSERT/SELECT-only audit role" in log
        assert "superuser" in log and "CDS_DB_URL" in log
    finally:
        stop_server(proc, timeout=20)
