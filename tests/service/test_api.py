"""JSON API edges against the started server: /explain, /model, 422 per field, 413."""

from __future__ import annotations

import copy
import math

import httpx
import pytest

from devtools.example_course import example_request

SECRETS = ("P-DEMO-1", "C-DEMO-1", "C-OTHER", "2020-01-01", "151", "unknown-sex", "2025-05-01")


def post(server, path: str, body, **kw) -> httpx.Response:
    return httpx.post(server["url"] + path, json=body, headers=server["auth"], timeout=60, **kw)


def test_explain_returns_every_feature_adding_up(server):
    from features.spec import FEATURE_NAMES

    r = post(server, "/explain", {"course": example_request()["courses"][0]})
    assert r.status_code == 200, r.text
    body = r.json()
    contributions = body["contributions"]
    assert sorted(c["feature"] for c in contributions) == sorted(FEATURE_NAMES)
    assert all(c["label"] for c in contributions)
    p = body["relapse_probability_180d"]
    total = body["base_log_odds"] + sum(c["shap_log_odds"] for c in contributions)
    assert total == pytest.approx(math.log(p / (1 - p)), abs=1e-6)
    scored = post(server, "/score", example_request()).json()["predictions"][0]
    assert scored["relapse_probability_180d"] == pytest.approx(p, abs=1e-9)


def test_model_reports_version_metrics_promotion_and_card(server, champion_dir):
    body = httpx.get(server["url"] + "/model", headers=server["auth"], timeout=10).json()
    assert body["version"] == champion_dir.name and len(body["sha256"]) == 64
    assert 0.5 < body["metrics"]["auroc"] <= 1 and body["model_card"]
    assert body["promoted_at"] and body["promotion_reason"]


def _course(i: int) -> dict:
    c = copy.deepcopy(example_request()["courses"][0])
    c["intake"]["course_id"] = f"C-{i}"
    for s in c["sessions"]:
        s["course_id"] = f"C-{i}"
    return c


@pytest.mark.parametrize(("mutate", "field", "rule"), [
    (lambda b: b["courses"][0]["intake"].update(age_years="forty"), "courses[0].intake.age_years",
     "int_parsing"),
    (lambda b: b["courses"][0]["intake"].update(age_years=151), "courses[0].intake.age_years",
     "less_than_equal"),
    (lambda b: b["courses"][0]["intake"].update(sex="unknown-sex"), "courses[0].intake.sex",
     "literal_error"),
    (lambda b: b["courses"][0]["intake"].update(relapse_date="2025-05-01"),
     "courses[0].intake.relapse_date", "extra_forbidden"),
    (lambda b: b["courses"][0].update(outcomes={"relapsed_180d": True}),
     "courses[0].outcomes", "extra_forbidden"),
    (lambda b: b["courses"][0]["sessions"][0].update(session_date="2020-01-01"), "courses[0]",
     "value_error"),
    (lambda b: b["courses"][0]["sessions"][0].update(course_id="C-OTHER"), "courses[0]",
     "value_error"),
    (lambda b: b["courses"].append(copy.deepcopy(b["courses"][0])), "courses", "value_error"),
    (lambda b: b.update(courses=[_course(i) for i in range(1001)]), "courses", "too_long"),
])
def test_bad_input_is_a_422_per_field_without_values(server, mutate, field, rule):
    body = copy.deepcopy(example_request())
    mutate(body)
    r = post(server, "/score", body)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert any(e["field"] == field and e["rule"] == rule for e in errors), errors
    for secret in SECRETS:
        assert secret not in r.text
    log = server["log"].read_text()
    assert "P-DEMO-1" not in log and "unknown-sex" not in log and "input_value" not in log


def test_rule_messages_name_the_rule(server):
    body = copy.deepcopy(example_request())
    body["courses"][0]["sessions"][0]["session_date"] = "2020-01-01"
    (error,) = post(server, "/score", body).json()["detail"]
    assert "before intake" in error["message"]


def test_malformed_json_is_400(server):
    r = httpx.post(server["url"] + "/score", content=b'{"courses": [', timeout=10,
                   headers={**server["auth"], "Content-Type": "application/json"})
    assert r.status_code == 400


def test_body_over_8_mib_is_413(server):
    big = b'{"courses": ["' + b"a" * (8 * 1024 * 1024) + b'"]}'
    r = httpx.post(server["url"] + "/score", content=big, timeout=60,
                   headers={**server["auth"], "Content-Type": "application/json"})
    assert r.status_code == 413

    def chunks():  # no Content-Length: the limit counts bytes as they arrive
        for _ in range(9):
            yield b"a" * (1024 * 1024)

    r = httpx.post(server["url"] + "/score", content=chunks(), timeout=60,
                   headers={**server["auth"], "Content-Type": "application/json"})
    assert r.status_code == 413


def test_unauthenticated_large_body_is_refused_before_reading(server):
    r = httpx.post(server["url"] + "/score", content=b"x" * 1024, timeout=10)
    assert r.status_code == 401
