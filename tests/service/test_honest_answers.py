"""Issue 12 against the started server: every served number says what it means."""

from __future__ import annotations

import copy
import datetime as dt

import httpx
import pytest

from devtools.example_bundle import example_bundle
from devtools.example_course import example_request

FHIR_PATH = "/fhir/RiskAssessment/$score"


def post(server, path: str, body) -> httpx.Response:
    return httpx.post(server["url"] + path, json=body, headers=server["auth"], timeout=60)


def _future(body: dict) -> dict:
    """The example course with its last session two years after today (UTC)."""
    body = copy.deepcopy(body)
    late = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=730)).isoformat()
    body["courses"][0]["sessions"][-1]["session_date"] = late
    return body


def test_score_answer_carries_meaning_and_warning(server):
    r = post(server, "/score", example_request())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["training_data"] == "synthetic"
    assert "not for patient care" in body["warning"]
    assert "not the causes" in body["factor_note"]
    (pred,) = body["predictions"]
    p = pred["relapse_probability_180d"]
    curve = pred["relapse_risk_curve"]
    assert list(curve) == ["30", "90", "180"]
    assert curve["180"] == pytest.approx(p, abs=1e-6)
    assert curve["30"] <= curve["90"] <= curve["180"]
    ci = pred["calibration_interval"]
    assert 0 <= ci["low"] <= ci["high"] <= 1 and ci["level"] == 0.95 and ci["n_courses"] > 0
    band = pred["band_observed"]
    assert band["low"] <= band["observed_relapse_rate"] <= band["high"] and band["meaning"]
    assert "interval" not in pred
    exposures = {f["feature"]: f["course_exposure"] for f in pred["top_factors"]}
    assert all(isinstance(v, bool) for v in exposures.values())
    for w in pred["input_warnings"]:
        assert w["kind"] in {"missing", "outside_training_range", "unlike_training_courses"}
        if w["kind"] == "missing":
            assert all(f["value"] is None for f in pred["top_factors"]
                       if f["feature"] == w["feature"])
    explained = post(server, "/explain", {"course": example_request()["courses"][0]}).json()
    assert "not for patient care" in explained["warning"]


@pytest.mark.parametrize("path, wrap, field", [
    ("/score", lambda b: b, "courses"),
    ("/explain", lambda b: {"course": b["courses"][0]}, "course"),
])
def test_a_course_that_has_not_ended_gets_a_422_naming_the_rule(server, path, wrap, field):
    r = post(server, path, wrap(_future(example_request())))
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["rule"] == "course_not_ended" and error["field"] == field
    assert "has not ended" in error["message"]


def test_fhir_answer_warns_and_refuses_an_unended_course(server):
    r = post(server, FHIR_PATH, example_bundle())
    assert r.status_code == 200, r.text
    notes = [n["text"] for n in r.json()["note"]]
    assert "not for patient care" in notes[0]
    bundle = copy.deepcopy(example_bundle())
    late = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=730)).isoformat()
    last = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"]
    last[-1]["period"]["start"] = late  # the course's last therapy session, two years ahead
    r = post(server, FHIR_PATH, bundle)
    assert r.status_code == 422 and r.json()["resourceType"] == "OperationOutcome"
    assert "has not ended" in r.text
