"""Issue 15 against the started server: what a hostile client tried, and what it gets now."""

from __future__ import annotations

import copy
import time
import uuid

import httpx
import jwt
import pytest

from devtools.example_bundle import example_bundle
from devtools.example_course import example_request
from serving.auth.keys import dev_keys
from serving.auth.tokens import DEV_USER_ISSUER
from tests.service.test_cds import SERVICE, call, ehr_jwt, hook

FHIR = "/fhir/RiskAssessment/$score"


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def hs256(project_settings, **overrides) -> str:
    keys = dev_keys(project_settings.var_dir / "keys" / "jwt-hs256.key")
    now = int(time.time())
    claims = {"sub": "dr-h", "role": "clinician", "aud": "relapse-risk", "iat": now,
              "exp": now + 600, "iss": DEV_USER_ISSUER, **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None},
                      keys.keys[keys.signing_kid], algorithm="HS256",
                      headers={"kid": keys.signing_kid})


# -- no 5xx from bad input ---------------------------------------------------------------

def test_encounter_that_is_its_own_episode_of_care_is_4xx(server):
    bundle = copy.deepcopy(example_bundle())
    encounter = next(e["resource"] for e in bundle["entry"]
                     if e["resource"]["resourceType"] == "Encounter")
    encounter["episodeOfCare"] = [{"reference": f"Encounter/{encounter['id']}"}]
    r = httpx.post(server["url"] + FHIR, json=bundle, headers=server["auth"], timeout=60)
    assert r.status_code == 422, r.text
    assert "cycle" in r.text


def test_two_encounters_referring_to_each_other_is_4xx(server):
    bundle = copy.deepcopy(example_bundle())
    a, b = [e["resource"] for e in bundle["entry"]
            if e["resource"]["resourceType"] == "Encounter"][:2]
    a["episodeOfCare"] = [{"reference": f"Encounter/{b['id']}"}]
    b["episodeOfCare"] = [{"reference": f"Encounter/{a['id']}"}]
    r = httpx.post(server["url"] + FHIR, json=bundle, headers=server["auth"], timeout=60)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("path", ["/outcomes", FHIR, "/score", "/explain"])
def test_json_nested_5000_deep_is_4xx(server, path):
    r = httpx.post(server["url"] + path, content=b"[" * 5000, headers={
        **server["auth"], "Content-Type": "application/json"}, timeout=30)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])


@pytest.mark.parametrize(("body", "rule"), [
    (b'{"course_id": "A", "course_id": "B", "relapsed_180d": null, '
     b'"followup_end_date": "2025-01-01"}', "duplicate key"),
    (b'{"course_id": "A", "relapsed_180d": NaN, "followup_end_date": "2025-01-01"}', "NaN"),
    (b'{"course_id": "A", "relapsed_180d": null, "followup_end_date": "2025-01-01", "x": 1e999}',
     "out of range"),
    (b'{"course_id": "A", "relapsed_180d": null, "followup_end_date": "2025-01-01", "x": '
     + b"9" * 5000 + b"}", "too long"),
    (b'{"course_id": "\xff\xfe", "relapsed_180d": null, "followup_end_date": "2025-01-01"}',
     "not UTF-8"),
    (b"[" * 65 + b"]" * 65, "nested deeper than 64"),
])
def test_outcomes_refuses_hostile_json_by_its_rule(server, body, rule):
    """Each refused by the parser's rule, not by luck in a later field check."""
    r = httpx.post(server["url"] + "/outcomes", content=body, headers={
        **server["auth"], "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and rule in r.json()["detail"], (r.status_code, r.text[:200])


@pytest.mark.parametrize(("path", "content_type"), [
    ("/score", "text/plain"), ("/explain", "application/x-www-form-urlencoded"),
    ("/outcomes", "text/plain"), (FHIR, "multipart/form-data; boundary=x"),
    (SERVICE, "text/plain"), (SERVICE + "/feedback", "text/plain"), ("/score", None),
])
def test_json_posts_need_a_json_content_type(server, ehr_key, path, content_type):
    headers = (bearer(ehr_jwt(server, ehr_key)) if path.startswith("/cds")
               else dict(server["auth"]))
    if content_type:
        headers["Content-Type"] = content_type
    r = httpx.post(server["url"] + path, content=b"{}", headers=headers, timeout=30)
    assert r.status_code == 415, (r.status_code, r.text[:200])


def test_json_with_charset_and_fhir_json_still_pass(server):
    body = example_request()
    r = httpx.post(server["url"] + "/score", json=body, headers={
        **server["auth"], "Content-Type": "application/json; charset=utf-8"}, timeout=30)
    assert r.status_code == 200, r.text
    r = httpx.post(server["url"] + FHIR, json=example_bundle(), headers={
        **server["auth"], "Content-Type": "application/fhir+json"}, timeout=60)
    assert r.status_code == 200, r.text


# -- metrics -----------------------------------------------------------------------------

def _metrics(server, token) -> str:
    r = httpx.get(server["url"] + "/metrics", headers=bearer(token("admin")), timeout=30)
    assert r.status_code == 200, r.text
    return r.text


def test_metrics_need_a_token_and_never_label_raw_paths(server, token):
    assert httpx.get(server["url"] + "/metrics", timeout=10).status_code == 401
    assert httpx.get(server["url"] + "/metrics", headers=bearer(token("clinician")),
                     timeout=10).status_code == 403
    _metrics(server, token)  # a scrape is counted after it answered: its own series exists now
    secret_ids = [uuid.uuid4().hex for _ in range(30)]
    with httpx.Client(base_url=server["url"], timeout=10) as client:
        for n, event_id in enumerate(secret_ids):
            assert client.get(f"/audit/events/{event_id}").status_code == 401
            assert client.get(f"/made-up-{event_id}").status_code == 401
            client.post(f"/nope/{n}", content=b"x")
        # httptools (uvicorn's parser) answers 400 to a method it does not know (BREW) before
        # the app; PROPFIND it parses, and the app must count it as OTHER.
        assert client.request("BREW", "/score").status_code < 500
        client.request("PROPFIND", "/score")
    before = _metrics(server, token)
    assert not any(event_id in before for event_id in secret_ids)
    assert 'route="/audit/events/{event_id}"' in before and 'route="unmatched"' in before
    assert 'status="401"' in before and 'method="OTHER"' in before
    with httpx.Client(base_url=server["url"], timeout=10) as client:
        for _ in range(100):
            client.get(f"/audit/events/{uuid.uuid4().hex}")
            client.get(f"/made-up-{uuid.uuid4().hex}")
    after = _metrics(server, token)
    # More requests to fresh paths add no series: the label set is bounded.
    series = {line.rsplit(" ", 1)[0] for line in before.splitlines() if not line.startswith("#")}
    grown = {line.rsplit(" ", 1)[0] for line in after.splitlines()
             if not line.startswith("#")} - series
    assert not grown, sorted(grown)[:5]


def test_bentoml_raw_path_metrics_are_off(server, token):
    text = _metrics(server, token)
    assert "bentoml_service_request_total" not in text
    assert 'endpoint="/made-up' not in text


# -- headers -----------------------------------------------------------------------------

def test_auditor_pages_send_security_headers(server, token):
    r = httpx.get(server["url"] + "/audit/events", headers=bearer(token("auditor")), timeout=30)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in r.headers  # plain http here; https adds it
    swagger = httpx.get(server["url"] + "/", timeout=10)
    assert "content-security-policy" in swagger.headers  # blocks its inline tag manager
    refused = httpx.get(server["url"] + "/audit/events", timeout=10)
    assert refused.status_code == 401 and refused.headers["x-content-type-options"] == "nosniff"


# -- tokens ------------------------------------------------------------------------------

def test_user_token_without_the_expected_issuer_is_401(server, project_settings):
    for claims in ({"iss": None}, {"iss": "https://somewhere-else.example"}):
        r = httpx.post(server["url"] + "/score", json=example_request(), timeout=30,
                       headers=bearer(hs256(project_settings, **claims)))
        assert r.status_code == 401, (claims, r.text)


def test_token_lifetime_is_capped_at_12_hours(server, project_settings):
    now = int(time.time())
    long = hs256(project_settings, iat=now, exp=now + 13 * 3600)
    r = httpx.post(server["url"] + "/score", json=example_request(), headers=bearer(long),
                   timeout=30)
    assert r.status_code == 401 and "lifetime" in r.json()["detail"]
    ok = hs256(project_settings, iat=now, exp=now + 12 * 3600)
    assert httpx.post(server["url"] + "/score", json=example_request(), headers=bearer(ok),
                      timeout=30).status_code == 200


def test_ehr_token_audience_comes_from_configuration_not_the_host_header(server, ehr_key):
    foreign = "http://other-service.example/cds-services/relapse-risk"
    token = ehr_jwt(server, ehr_key, aud=foreign)
    r = httpx.post(server["url"] + SERVICE, json=hook(), timeout=60, headers={
        **bearer(token), "Host": "other-service.example"})
    assert r.status_code == 401 and "wrong audience" in r.json()["detail"]
    assert call(server, ehr_key, hook()).status_code == 200  # the configured URL still works


def test_fhir_server_outside_the_issuers_allow_list_is_never_contacted(server, ehr_key):
    body = hook()
    del body["prefetch"]["observations"]
    for url in ("https://attacker.example/fhir", "http://169.254.169.254/latest",
                f"{server['url']}/audit/api/events"):
        r = call(server, ehr_key, {**body, "fhirServer": url,
                                   "fhirAuthorization": {"access_token": "ehr-secret"}})
        assert r.status_code == 412, r.text
        assert "allow-listed" in r.text or "https" in r.text


def test_demo_fallbacks_are_logged_loudly(server):
    log = server["log"].read_text()
    assert "DEMO FALLBACK" in log and "HS256 dev secret" in log
    assert "CDS_DB_URL" in log
