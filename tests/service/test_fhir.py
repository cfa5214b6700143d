"""FHIR R4B: Bundle in, RiskAssessment out, against the started server; OperationOutcome on errors."""

from __future__ import annotations

import copy
import datetime as dt

import httpx
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.riskassessment import RiskAssessment

from devtools.example_bundle import example_bundle
from devtools.example_course import example_request
from serving.fhir.codes import INTAKE_OBSERVATIONS, SESSION_OBSERVATIONS, STRUCTURAL_MAPPING

PATH = "/fhir/RiskAssessment/$score"


def post(server, body) -> httpx.Response:
    return httpx.post(server["url"] + PATH, json=body, headers=server["auth"], timeout=60)


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_bundle_round_trip_gives_a_valid_risk_assessment(server):
    r = post(server, example_bundle())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    ra = RiskAssessment.model_validate(r.json())
    assert ra.status == "final" and ra.subject.reference == "Patient/P-DEMO-1"
    (pred,) = ra.prediction
    scored = httpx.post(server["url"] + "/score", json=example_request(), headers=server["auth"],
                        timeout=30).json()["predictions"][0]
    assert float(pred.probabilityDecimal) == pytest.approx(scored["relapse_probability_180d"],
                                                           abs=1e-6)
    assert pred.qualitativeRisk.coding[0].code == scored["risk_band"]
    assert str(pred.whenPeriod.start)[:10] == "2025-04-02"
    assert str(pred.whenPeriod.end)[:10] == str(dt.date(2025, 4, 2) + dt.timedelta(days=180))
    assert "not the causes" in pred.rationale
    assert ra.method.coding[0].version and ra.method.coding[0].code == "relapse-risk"
    refs = {b.reference for b in ra.basis}
    assert {"Patient/P-DEMO-1", "EpisodeOfCare/C-DEMO-1", "MedicationAdministration/session-1",
            "Encounter/session-2", "Observation/obs-audit-total"} <= refs
    labels = {(s.system.rsplit("/", 1)[-1], s.code) for s in ra.meta.security}
    assert {("v3-ActCode", "ETH"), ("v3-Confidentiality", "R"), ("v3-ActCode", "42CFRPart2")} <= labels
    factors = [e for e in ra.extension if e.url.endswith("shap-factor")]
    assert len(factors) == len(scored["top_factors"])


def _outcome(r: httpx.Response) -> OperationOutcome:
    assert 400 <= r.status_code < 500, r.text
    return OperationOutcome.model_validate(r.json())


@pytest.mark.parametrize("mutate", [
    lambda b: b.update(entry=[e for e in b["entry"]
                              if e["resource"]["resourceType"] != "Patient"]),
    lambda b: resources(b, "Patient")[0].update(birthDate="1701-01-01"),  # age 323: out of range
    lambda b: resources(b, "Patient")[0].update(gender="unknown"),
    lambda b: resources(b, "Observation")[0].update(valueQuantity={"value": 99}),  # AUDIT > 40
    lambda b: resources(b, "Observation")[0].update(subject={"reference": "Patient/P-OTHER-9"}),
    lambda b: resources(b, "MedicationAdministration")[0].update(
        context={"reference": "EpisodeOfCare/C-OTHER-9"}),
    lambda b: resources(b, "Encounter")[0].update(period={"start": "2020-01-01"}),
    lambda b: resources(b, "Patient")[0].update(secretField="P-DEMO-1"),
    lambda b: b["entry"].append({"resource": {"resourceType": "NotAResource", "x": "P-DEMO-1"}}),
    lambda b: b.update(resourceType="Patient"),
])
def test_invalid_bundle_gets_an_operation_outcome(server, mutate):
    bundle = copy.deepcopy(example_bundle())
    mutate(bundle)
    r = post(server, bundle)
    outcome = _outcome(r)
    assert outcome.issue and all(i.severity == "error" for i in outcome.issue)
    for secret in ("P-OTHER-9", "C-OTHER-9", "1701-01-01", "2020-01-01"):
        assert secret not in r.text


def test_non_json_is_400_operation_outcome(server):
    r = httpx.post(server["url"] + PATH, content=b"<Bundle/>", timeout=10, headers={
        **server["auth"], "Content-Type": "application/fhir+json"})
    assert r.status_code == 400 and _outcome(r).issue[0].code == "structure"


def test_mapping_table_is_published():
    text = (__import__("pathlib").Path(__file__).resolve().parents[2] / "docs" /
            "fhir_mapping.md").read_text()
    for name, (_, code) in {**INTAKE_OBSERVATIONS, **SESSION_OBSERVATIONS}.items():
        assert f"`{name}`" in text and code in text, name
    for resource, _element, field, _ in STRUCTURAL_MAPPING:
        assert resource in text and field in text
