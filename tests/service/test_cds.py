"""CDS Hooks against the started server: discovery, patient-view with an EHR's RS384 JWT, feedback."""

from __future__ import annotations

import copy
import time
import uuid

import httpx
import jwt
import pytest

from devtools.example_bundle import example_bundle

SERVICE = "/cds-services/relapse-risk"


def ehr_jwt(server, ehr_key, **overrides) -> str:
    now = int(time.time())
    claims = {"iss": ehr_key["issuer"], "sub": "ehr-client", "aud": server["url"] + SERVICE,
              "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex, **overrides}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, ehr_key["private"],
                      algorithm="RS384", headers={"kid": ehr_key["kid"]})


def prefetch(bundle: dict | None = None) -> dict:
    res = [e["resource"] for e in (bundle or example_bundle())["entry"]]

    def search(kind: str) -> dict:
        return {"resourceType": "Bundle", "type": "searchset",
                "entry": [{"resource": r} for r in res if r["resourceType"] == kind]}

    return {"patient": res[0], "episodes": search("EpisodeOfCare"),
            "observations": search("Observation"), "medications": search("MedicationAdministration"),
            "encounters": search("Encounter"), "procedures": search("Procedure")}


def hook(user: str = "Practitioner/dr-cds-1", **extra) -> dict:
    return {"hook": "patient-view", "hookInstance": uuid.uuid4().hex,
            "context": {"userId": user, "patientId": "P-DEMO-1"}, "prefetch": prefetch(), **extra}


def call(server, ehr_key, body: dict, token: str | None = None) -> httpx.Response:
    token = token or ehr_jwt(server, ehr_key)
    return httpx.post(server["url"] + SERVICE, json=body, timeout=60,
                      headers={"Authorization": f"Bearer {token}"})


def test_discovery_lists_the_patient_view_service_with_prefetch(server):
    r = httpx.get(server["url"] + "/cds-services", timeout=10)
    assert r.status_code == 200
    (service,) = r.json()["services"]
    assert service["hook"] == "patient-view" and service["id"] == "relapse-risk"
    assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert {"episodes", "observations", "medications", "encounters"} <= set(service["prefetch"])


def test_patient_view_returns_one_card_and_audits_issuer_and_user(server, ehr_key,
                                                                  project_settings, monkeypatch):
    r = call(server, ehr_key, hook(user="Practitioner/dr-cds-7"))
    assert r.status_code == 200, r.text
    (card,) = r.json()["cards"]
    assert len(card["summary"]) < 140 and card["indicator"] in {"info", "warning", "critical"}
    assert "model version" in card["source"]["label"]
    assert "| factor |" in card["detail"] and "not the causes" in card["detail"]
    # Issue 12: the demo model says so on the card; the indicator follows the band's meaning.
    assert card["summary"].startswith("DEMO") and "not for patient care" in card["detail"]
    assert card["indicator"] == ("warning" if "(high)" in card["summary"] else "info")
    assert "Intended use" in card["detail"]
    from audit import AuditStore

    monkeypatch.setenv("VAR_DIR", str(project_settings.var_dir))
    with AuditStore(f"sqlite:///{project_settings.var_dir / 'audit.db'}", read_only=True) as store:
        caller = f"{ehr_key['issuer']}|Practitioner/dr-cds-7"
        (event,) = store.list_events(caller_sub=caller)
        assert store.get_event(event.event_id).endpoint == SERVICE
        assert event.request_id.startswith(card["uuid"].replace("-", "")[:8])


def test_no_card_for_a_course_that_has_not_ended(server, ehr_key):
    bundle = copy.deepcopy(example_bundle())
    last = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"][-1]
    last.update(status="planned", period={"start": "2099-01-01"})
    r = call(server, ehr_key, {**hook(), "prefetch": prefetch(bundle)})
    assert r.status_code == 200 and r.json() == {"cards": []}


@pytest.mark.parametrize(("claims", "reason"), [
    ({"iss": "https://unknown-ehr.example"}, "issuer not allowed"),
    ({"aud": "https://elsewhere.example/cds-services/relapse-risk"}, "wrong audience"),
    ({"exp": int(time.time()) - 3600}, "token expired"),
    ({"jti": None}, "missing claim jti"),
])
def test_bad_ehr_tokens_are_401(server, ehr_key, claims, reason):
    r = call(server, ehr_key, hook(), ehr_jwt(server, ehr_key, **claims))
    assert r.status_code == 401 and reason in r.json()["detail"]
    assert "www-authenticate" in r.headers


def test_a_user_token_is_not_an_ehr_token(server, ehr_key, token):
    r = call(server, ehr_key, hook(), token("clinician"))
    assert r.status_code == 401


def test_jti_cannot_be_replayed(server, ehr_key):
    token = ehr_jwt(server, ehr_key)
    assert call(server, ehr_key, hook(), token).status_code == 200
    r = call(server, ehr_key, hook(), token)
    assert r.status_code == 401 and "already used" in r.json()["detail"]


def test_missing_prefetch_without_reachable_fhir_server_is_412(server, ehr_key):
    body = hook()
    del body["prefetch"]["observations"]
    assert call(server, ehr_key, body).status_code == 412
    body["fhirServer"] = "http://127.0.0.1:9/fhir"  # nothing listens on the discard port
    assert call(server, ehr_key, body).status_code == 412


def test_bad_hook_request_is_400_without_values(server, ehr_key):
    r = call(server, ehr_key, {"hook": "order-sign", "context": {"patientId": "P-SECRET-5"}})
    assert r.status_code == 400 and "P-SECRET-5" not in r.text


def test_feedback_is_recorded(server, ehr_key, project_settings):
    (card,) = call(server, ehr_key, hook()).json()["cards"]
    body = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                          "outcomeTimestamp": "2025-04-03T10:00:00Z",
                          "overrideReason": {"reason": {"code": "disagree"},
                                             "userComment": "free text never stored"}}]}
    r = httpx.post(server["url"] + SERVICE + "/feedback", json=body, timeout=10,
                   headers={"Authorization": f"Bearer {ehr_jwt(server, ehr_key)}"})
    assert r.status_code == 200, r.text
    from serving.cds.feedback import FeedbackStore

    (row,) = FeedbackStore(f"sqlite:///{project_settings.var_dir / 'cds-hooks.db'}").for_card(
        card["uuid"])
    assert (row["outcome"], row["override_reason"], row["issuer"]) == (
        "overridden", "disagree", ehr_key["issuer"])
    assert "free text" not in str(row)
