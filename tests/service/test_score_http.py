"""/score over HTTP against a started BentoML server (no mocks)."""

from __future__ import annotations

import copy
import math

import httpx
import pytest

from devtools.example_course import example_request


def post(server, body) -> httpx.Response:
    return httpx.post(server["url"] + "/score", json=body, headers=server["auth"], timeout=30)


def test_score_returns_calibrated_probability_with_explanation(server, champion_dir):
    r = post(server, example_request())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["version"] == champion_dir.name and len(body["model"]["sha256"]) == 64
    (pred,) = body["predictions"]
    p = pred["relapse_probability_180d"]
    assert 0 < p < 1 and pred["risk_band"] in {"low", "moderate", "high"}
    factors = pred["top_factors"]
    assert 1 <= len(factors) <= 5
    assert all(f["direction"] == ("raises" if f["shap_log_odds"] > 0 else "lowers") for f in factors)
    assert abs(factors[0]["shap_log_odds"]) >= abs(factors[-1]["shap_log_odds"])
    assert pred["base_log_odds"] < math.log(p / (1 - p)) + 10  # sanity: finite log-odds


def test_missing_inputs_are_named_in_warnings(server):
    body = copy.deepcopy(example_request())
    body["courses"][0]["intake"]["phq9_total"] = None
    pred = post(server, body).json()["predictions"][0]
    assert {"kind": "missing", "feature": "phq9_total"}.items() <= next(
        w for w in pred["input_warnings"] if w["feature"] == "phq9_total").items()


def test_many_courses_in_one_request(server):
    course = example_request()["courses"][0]
    courses = []
    for i in range(50):
        c = copy.deepcopy(course)
        cid = f"C-{i}"
        c["intake"]["course_id"] = cid
        c["intake"]["age_years"] = 20 + i
        for s in c["sessions"]:
            s["course_id"] = cid
        courses.append(c)
    r = post(server, {"courses": courses})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert [p["course_id"] for p in preds] == [f"C-{i}" for i in range(50)]
    assert len({round(p["relapse_probability_180d"], 6) for p in preds}) > 1


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b["courses"][0]["intake"].update(age_years=150), "age_years"),
    (lambda b: b["courses"][0]["intake"].update(sex="unknown"), "sex"),
    (lambda b: b["courses"][0]["intake"].update(relapse_date="2025-05-01"), "relapse_date"),
    (lambda b: b["courses"][0]["sessions"][0].update(session_date="2020-01-01"), "sessions"),
    (lambda b: b["courses"][0]["sessions"][0].update(course_id="C-OTHER"), "sessions"),
    (lambda b: b["courses"].append(copy.deepcopy(b["courses"][0])), "courses"),
    (lambda b: b.update(courses=[]), "courses"),
])
def test_bad_input_is_a_4xx_naming_the_field_without_echoing_values(server, mutate, field):
    body = copy.deepcopy(example_request())
    mutate(body)
    r = post(server, body)
    assert 400 <= r.status_code < 500, r.text
    assert field in r.text
    for secret in ("P-DEMO-1", "2020-01-01", "C-OTHER", "150", "unknown"):
        assert secret not in r.text
    log = server["log"].read_text()
    assert "P-DEMO-1" not in log and "input_value" not in log


def test_health_and_openapi(server):
    assert httpx.get(server["url"] + "/healthz").status_code == 200
    assert httpx.get(server["url"] + "/readyz").status_code == 200
    spec = httpx.get(server["url"] + "/docs.json").json()
    assert "/score" in spec["paths"]


def test_served_predictions_are_in_the_audit_chain(server, project_settings, monkeypatch):
    from audit import AuditStore

    monkeypatch.setenv("VAR_DIR", str(project_settings.var_dir))  # the server's keys
    post(server, example_request())
    with AuditStore(f"sqlite:///{project_settings.var_dir / 'audit.db'}", read_only=True) as store:
        count, _ = store.head()
        assert count >= 1
        assert store.verify().ok


def test_each_prediction_carries_a_calibration_interval_and_a_risk_curve(server):
    pred = post(server, example_request()).json()["predictions"][0]
    ci, curve = pred["calibration_interval"], pred["relapse_risk_curve"]
    assert 0 <= ci["low"] <= ci["high"] <= 1 and ci["level"] == 0.95
    days = sorted(curve, key=int)
    assert {"30", "90", "180"} <= set(days)
    risks = [curve[d] for d in days]
    assert all(0 <= r <= 1 for r in risks) and risks == sorted(risks)  # cumulative risk
