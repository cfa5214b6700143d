"""Auditor workspace in-process: roles, filters and paging, full event, replay, pages, access log."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import create_engine
from starlette.testclient import TestClient

from audit import AuditStore, AuditWriteError
from riskmodel.predictor import RiskModel
from serving.auditor import create_workspace_app
from serving.auth.principal import Principal
from tests.audit_setup import installed
from tests.service.auditor_fixtures import as_principal, courses, score_into

AUDITOR = Principal("auditor-7", "auditor")


@pytest.fixture
def store(tmp_path, monkeypatch):
    with AuditStore(installed(monkeypatch, tmp_path)) as s:
        yield s


@pytest.fixture(scope="module")
def model(champion_dir) -> RiskModel:
    return RiskModel.load(champion_dir)


@pytest.fixture
def filled(store, model):
    """24 real predictions from two callers, in two requests."""
    a = score_into(store, model, courses(16, "A"), caller_sub="dr-a", request_id="req-a")
    b = score_into(store, model, courses(8, "B"), caller_sub="dr-b", request_id="req-b")
    return a + b


def client(store, models_dir, principal=AUDITOR) -> TestClient:
    app = create_workspace_app(lambda: store, models_dir)
    return TestClient(as_principal(app, principal))


ROUTES = ["/audit/events", "/audit/models", "/audit/api/events", "/audit/api/chain",
          "/audit/api/models"]


@pytest.mark.parametrize("path", ROUTES)
def test_roles_401_without_caller_403_for_clinician(store, champion_dir, path):
    assert client(store, champion_dir.parent, None).get(path).status_code == 401
    clinician = Principal("dr-a", "clinician")
    assert client(store, champion_dir.parent, clinician).get(path).status_code == 403
    assert client(store, champion_dir.parent).get(path).status_code == 200
    assert store.list_access(limit=10)[0].caller_sub == AUDITOR.sub  # only the allowed read


def test_list_filters_and_paging(store, champion_dir, filled):
    c = client(store, champion_dir.parent)
    body = c.get("/audit/api/events", params={"caller_sub": "dr-b"}).json()
    assert body["total"] == 8 and {e["caller_sub"] for e in body["events"]} == {"dr-b"}
    bands = {e.risk_band for e in filled}
    for band in bands:
        got = c.get("/audit/api/events", params={"risk_band": band, "limit": 1000}).json()
        assert got["total"] == sum(e.risk_band == band for e in filled)
        assert all(e["risk_band"] == band for e in got["events"])
    pages = [c.get("/audit/api/events", params={"limit": 10, "offset": o}).json()["events"]
             for o in (0, 10, 20)]
    ids = [e["event_id"] for page in pages for e in page]
    assert len(ids) == 24 and set(ids) == {e.event_id for e in filled}
    version = filled[0].model_version
    assert c.get("/audit/api/events", params={"model_version": version}).json()["total"] == 24
    assert c.get("/audit/api/events", params={"model_version": "999"}).json()["total"] == 0
    future = c.get("/audit/api/events", params={"since": "2999-01-01"}).json()
    assert future["total"] == 0
    bad = c.get("/audit/api/events", params={"risk_band": "extreme"})
    assert bad.status_code == 400 and "risk_band" in bad.json()["error"]
    assert c.get("/audit/api/events", params={"since": "yesterday"}).status_code == 400


def test_event_in_full_and_reads_are_recorded(store, champion_dir, filled):
    c = client(store, champion_dir.parent)
    target = filled[3]
    body = c.get(f"/audit/api/events/{target.event_id}").json()["event"]
    assert body["features"] == target.features and body["shap_values"] == target.shap_values
    assert body["hash"] == target.hash and body["model_sha256"] == target.model_sha256
    c.get("/audit/api/events", params={"risk_band": "high"})
    newest = store.list_access(limit=2)
    assert newest[0].action == "api_list_events" and newest[0].filters["risk_band"] == "high"
    assert newest[1].action == "api_get_event" and newest[1].event_ids == [target.event_id]
    assert newest[1].caller_sub == AUDITOR.sub and newest[1].caller_role == "auditor"
    assert c.get("/audit/api/events/" + "0" * 32).status_code == 404
    assert store.verify().ok


def test_replay_matches_with_the_stored_model_version(store, champion_dir, filled):
    c = client(store, champion_dir.parent)
    result = c.get(f"/audit/api/events/{filled[0].event_id}/replay").json()
    assert result["matches"] is True, result
    assert result["probability_diff"] <= 1e-9 and result["mismatched_features"] == []


def test_replay_reports_a_stored_value_that_differs(store, champion_dir, model, filled):
    (event,) = score_into(store, model, courses(1, "X"))
    # A forged record, appended legitimately: different SHAP and probability than the model gives.
    forged = event.model_copy(update={"event_id": "f" * 32, "probability": 0.01,
                                      "shap_values": {**event.shap_values, "age_years": 9.0}})
    store.append(type(filled[0]).__base__.model_validate(  # PredictionEvent fields only
        {k: getattr(forged, k) for k in type(filled[0]).__base__.model_fields}))
    result = client(store, champion_dir.parent).get(f"/audit/api/events/{'f' * 32}/replay").json()
    assert result["matches"] is False and "age_years" in result["mismatched_features"]
    assert result["probability_diff"] > 0.01


def test_replay_refuses_an_altered_artifact(store, champion_dir, filled, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(champion_dir, models / champion_dir.name)
    with (models / champion_dir.name / "calibrator.json").open("a") as fh:
        fh.write(" ")
    result = client(store, models).get(f"/audit/api/events/{filled[0].event_id}/replay").json()
    assert result["matches"] is False and "checksum" in result["reason"]


def test_pages_show_list_event_plot_and_models(store, champion_dir, filled):
    c = client(store, champion_dir.parent)
    page = c.get("/audit/events", params={"caller_sub": "dr-b"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert page.text.count('class="event-row"') == 8 and "chain verified" in page.text
    first = c.get("/audit/events", params={"limit": 10})
    assert 'id="next-page"' in first.text and 'id="prev-page"' not in first.text
    target = filled[0]
    event_page = c.get(f"/audit/events/{target.event_id}").text
    assert f"/audit/events/{target.event_id}/waterfall.png" in event_page
    assert "Depression (PHQ-9)" in event_page and "points (scale 0-27)" in event_page
    png = c.get(f"/audit/events/{target.event_id}/waterfall.png")
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    models = c.get("/audit/models").text
    assert f"Version {champion_dir.name} (champion)" in models and "checksums verified" in models
    log = json.loads((champion_dir.parent / "promotion_log.jsonl").read_text().splitlines()[-1])
    assert log["promoted_by"] in models and "all promotion gates passed" in models


def test_banner_reports_a_tampered_chain(store, champion_dir, filled, tmp_path):
    engine = create_engine(store.url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        conn.exec_driver_sql("UPDATE audit_events SET probability = 0.5 WHERE seq = 5")
    engine.dispose()
    c = client(store, champion_dir.parent)
    assert c.get("/audit/api/chain").json()["ok"] is False
    page = c.get("/audit/events").text
    assert "CHAIN CHECK FAILED" in page and "seq 5" in page


def test_no_access_record_means_no_answer(store, champion_dir, filled, monkeypatch):
    def broken(*args, **kwargs):
        raise AuditWriteError("disk full")

    monkeypatch.setattr(store, "record_access", broken)
    c = client(store, champion_dir.parent)
    r = c.get(f"/audit/api/events/{filled[0].event_id}")
    assert r.status_code == 503 and filled[0].probability.hex() not in r.text
    assert c.get("/audit/events").status_code == 503


def _count_rows(store, monkeypatch) -> list[int]:
    read = [0]
    real = store.iter_rows

    def counting(*args, **kwargs):
        for row in real(*args, **kwargs):
            read[0] += 1
            yield row

    monkeypatch.setattr(store, "iter_rows", counting)
    return read


def test_chain_checks_read_only_new_rows_after_the_first_full_walk(store, champion_dir, model,
                                                                   filled, monkeypatch):
    read = _count_rows(store, monkeypatch)
    c = client(store, champion_dir.parent)
    first = c.get("/audit/api/chain").json()
    assert first["ok"] and read[0] >= len(filled)  # the walk at first use covers every row
    walked = read[0]
    for _ in range(5):
        again = c.get("/audit/api/chain").json()
        assert again["ok"] and again["rows"]["prediction"] == len(filled)
    # each check re-reads each chain's head row and the rows appended since (access events)
    assert read[0] - walked <= 5 * 8, read[0] - walked
    before = read[0]
    score_into(store, model, courses(3, "C"), request_id="req-c")
    after = c.get("/audit/api/chain").json()
    assert after["rows"]["prediction"] == len(filled) + 3
    assert read[0] - before <= 3 + 8
    assert "last full walk" in c.get("/audit/events").text


def test_incremental_check_finds_a_new_row_altered_and_a_truncated_head(store, champion_dir,
                                                                        model, filled):
    c = client(store, champion_dir.parent)
    assert c.get("/audit/api/chain").json()["ok"]
    new = score_into(store, model, courses(2, "N"), request_id="req-n")
    engine = create_engine(store.url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        conn.exec_driver_sql(f"UPDATE audit_events SET probability = 0.5 WHERE seq = {new[0].seq}")
    engine.dispose()
    report = c.get("/audit/api/chain").json()
    assert report["ok"] is False and f"seq {new[0].seq}" in report["problems"][0]


def test_incremental_check_finds_the_verified_head_deleted(store, champion_dir, filled):
    c = client(store, champion_dir.parent)
    assert c.get("/audit/api/chain").json()["ok"]
    engine = create_engine(store.url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        conn.exec_driver_sql(f"DELETE FROM audit_events WHERE seq = {len(filled)}")
    engine.dispose()
    report = c.get("/audit/api/chain").json()
    assert report["ok"] is False and "truncated" in report["problems"][0]


def test_a_full_walk_runs_on_schedule_and_finds_an_old_row_altered(store, champion_dir, filled):
    from serving.auditor import workspace

    app = create_workspace_app(lambda: store, champion_dir.parent)
    c = TestClient(as_principal(app, AUDITOR))
    assert c.get("/audit/api/chain").json()["ok"]
    engine = create_engine(store.url)
    with engine.begin() as conn:
        trigger = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = "
                                       "'audit_events_no_update'").scalar()
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
    dropped = c.get("/audit/api/chain").json()  # a missing trigger: each check sees it
    assert dropped["ok"] is False and "audit_events_no_update" in " ".join(dropped["problems"])
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_events SET probability = 0.5 WHERE seq = 2")
        conn.exec_driver_sql(trigger)  # put back, so only the altered old row is left
    engine.dispose()
    ws = app.state.workspace
    ws.verifier.full_every_s = 0.0
    ws.chain_status(fresh=True)  # due: the full walk runs in the background
    ws._rewalk.join(timeout=60)
    ws.verifier.full_every_s = workspace.FULL_WALK_EVERY_S
    report = c.get("/audit/api/chain").json()  # an old row: only the full walk sees it
    assert report["ok"] is False and "seq 2" in report["problems"][0], report


def test_the_chain_check_can_be_the_first_use_of_the_workspace(store, champion_dir):
    """The banner's check may open the store itself (no lock taken twice)."""
    app = create_workspace_app(lambda: store, champion_dir.parent)
    done = []
    thread = __import__("threading").Thread(
        target=lambda: done.append(app.state.workspace.chain_status()), daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert done and done[0].ok
