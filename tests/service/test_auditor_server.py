"""The workspace inside the started BentoML server, behind the real JWT middleware."""

from __future__ import annotations

import httpx
from starlette.routing import Match

from tests.service.auditor_fixtures import courses


def bearer(token, role: str, sub: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, sub)}"}


def test_mount_claims_only_audit_and_outcomes():
    from serving.auditor.app import create_workspace_app

    app = create_workspace_app()
    for method, path, claimed in [("POST", "/score", False), ("GET", "/readyz", False),
                                  ("GET", "/", False), ("GET", "/audit/events", True),
                                  ("POST", "/outcomes", True)]:
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        assert any(r.matches(scope)[0] == Match.FULL for r in app.routes) is claimed, path


def test_score_then_audit_pages_replay_and_outcome_over_http(server, token):
    base = server["url"]
    scored = httpx.post(base + "/score", json={"courses": courses(2, "SRV")},
                        headers=bearer(token, "clinician", "dr-http"), timeout=30)
    assert scored.status_code == 200, scored.text
    request_id = scored.json()["request_id"]

    assert httpx.get(base + "/audit/api/events", timeout=10).status_code == 401
    assert httpx.get(base + "/audit/api/events", headers=bearer(token, "clinician"),
                     timeout=10).status_code == 403
    auditor = bearer(token, "auditor", "auditor-http")
    listed = httpx.get(base + "/audit/api/events", params={"caller_sub": "dr-http"},
                       headers=auditor, timeout=10).json()
    mine = [e for e in listed["events"] if e["request_id"] == request_id]
    assert len(mine) == 2
    replay = httpx.get(f"{base}/audit/api/events/{mine[0]['event_id']}/replay", headers=auditor,
                       timeout=30).json()
    assert replay["matches"] is True, replay
    page = httpx.get(f"{base}/audit/events/{mine[0]['event_id']}", headers=auditor, timeout=30)
    assert page.status_code == 200 and "waterfall.png" in page.text
    png = httpx.get(f"{base}/audit/events/{mine[0]['event_id']}/waterfall.png", headers=auditor,
                    timeout=30)
    assert png.content[:4] == b"\x89PNG"

    outcome = {"course_id": "SRV-0", "relapsed_180d": False, "followup_end_date": "2025-12-01"}
    assert httpx.post(base + "/outcomes", json=outcome, headers=auditor,
                      timeout=10).status_code == 403
    r = httpx.post(base + "/outcomes", json=outcome, headers=bearer(token, "clinician", "dr-http"),
                   timeout=10)
    assert r.status_code == 201, r.text
    assert set(r.json()["linked_event_ids"]) <= {e["event_id"] for e in mine}
    chain = httpx.get(base + "/audit/api/chain", headers=auditor, timeout=60).json()
    assert chain["ok"] and chain["rows"]["outcome"] >= 1
