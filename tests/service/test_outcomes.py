# ruff: noqa: F811 - `backend` is the store-test fixture, imported to run on both databases
"""POST /outcomes on SQLite and PostgreSQL: linked to predictions, append-only, chained."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from riskmodel.predictor import RiskModel
from serving.auditor import create_workspace_app
from serving.auth.principal import Principal
from tests.service.auditor_fixtures import as_principal, courses, score_into
from tests.service.test_audit_store import Backend, backend  # noqa: F401 - fixture

CLINICIAN = Principal("dr-a", "clinician")
RELAPSED = {"course_id": "A-1", "relapsed_180d": True, "relapse_date": "2025-06-01",
            "followup_end_date": "2025-10-01"}


@pytest.fixture(scope="module")
def model(champion_dir) -> RiskModel:
    return RiskModel.load(champion_dir)


def post(store, models_dir, body, principal=CLINICIAN):
    app = create_workspace_app(lambda: store, models_dir)
    return TestClient(as_principal(app, principal)).post("/outcomes", json=body)


def test_outcome_links_to_predictions_without_rewriting_them(backend: Backend, model,
                                                             champion_dir) -> None:
    with backend.open() as store:
        first = score_into(store, model, courses(3, "A"), request_id="r1")
        again = score_into(store, model, courses(2, "A"), request_id="r2")  # A-1 scored twice
        before = {e.event_id: e.hash for e in first + again}
        r = post(store, champion_dir.parent, RELAPSED)
        assert r.status_code == 201, r.text
        body = r.json()
        a1 = {e.event_id for e in first + again if e.course_ref == store.course_ref("A-1")}
        assert set(body["linked_event_ids"]) == a1 and len(a1) == 2
        assert "A-1" not in r.text  # the raw course id is neither echoed nor stored
        (stored,) = store.list_outcomes(course_ref=store.course_ref("A-1"))
        assert stored.outcome == "relapsed" and stored.caller_sub == "dr-a"
        assert stored.relapse_date == "2025-06-01"
        after = {e["event_id"]: e["hash"] for e in store.iter_rows("prediction")}
        assert after == before  # predictions untouched
        censored = dict(RELAPSED, relapsed_180d=None, relapse_date=None)
        assert post(store, champion_dir.parent, censored).status_code == 201  # a correction
        assert [o.outcome for o in store.list_outcomes()] == ["censored", "relapsed"]
        report = store.verify()
        assert report.ok and report.chains["outcome"].rows_verified == 2


def test_outcome_roles_and_refusals(backend: Backend, model, champion_dir) -> None:
    with backend.open() as store:
        score_into(store, model, courses(2, "A"))
        models = champion_dir.parent
        assert post(store, models, RELAPSED, None).status_code == 401
        assert post(store, models, RELAPSED, Principal("au", "auditor")).status_code == 403
        assert post(store, models, RELAPSED, Principal("root", "admin")).status_code == 403
        recorder = Principal("follow-up", "outcome_recorder")
        assert post(store, models, RELAPSED, recorder).status_code == 201
        unknown = post(store, models, dict(RELAPSED, course_id="SECRET-COURSE-9"))
        assert unknown.status_code == 404 and "SECRET-COURSE-9" not in unknown.text
        no_date = post(store, models, dict(RELAPSED, course_id="SECRET-1", relapse_date=None))
        assert no_date.status_code == 400 and "SECRET-1" not in no_date.text
        bad = post(store, models, dict(RELAPSED, course_id="SECRET-2", relapsed_180d="maybe"))
        assert bad.status_code == 400 and bad.json()["detail"][0]["field"] == "relapsed_180d"
        assert "SECRET-2" not in bad.text
        assert len(store.list_outcomes()) == 1


def test_outcomes_are_append_only_and_tamper_evident(backend: Backend, model,
                                                     champion_dir) -> None:
    with backend.open() as store:
        score_into(store, model, courses(2, "A"))
        assert post(store, champion_dir.parent, RELAPSED).status_code == 201
        with pytest.raises(DBAPIError):
            backend.sql("UPDATE audit_outcomes SET outcome = 'no_relapse'")
        with pytest.raises(DBAPIError):
            backend.sql("DELETE FROM audit_outcomes")
        off = {"sqlite": ["DROP TRIGGER audit_outcomes_no_update"],
               "postgresql": ["ALTER TABLE audit_outcomes DISABLE TRIGGER USER"]}
        backend.sql(*off[backend.dialect], "UPDATE audit_outcomes SET outcome = 'no_relapse'")
        report = store.verify()
        assert not report.ok and report.chains["outcome"].broken_seq == 1
        assert report.chains["prediction"].ok


def test_store_from_before_the_outcome_migration(backend: Backend) -> None:
    """A store created by migration 0001 alone verifies read-only, then upgrades in place."""
    from audit.database import MIGRATIONS_DIR
    from audit.installation import migrate_store

    with backend.open() as store:
        url, store_id = store.url, store.store_id
    # (0002's index on audit_events.course_ref is gone since 0005/0006 replaced it)
    backend.sql("DROP TABLE audit_outcomes", "DELETE FROM schema_version WHERE version = 2")
    with backend.open(read_only=True) as old:
        assert old.verify().ok and old.list_outcomes() == []
    migrate_store(url)  # make audit-migrate: the service never migrates
    with backend.open() as upgraded:
        assert upgraded.store_id == store_id and upgraded.verify().ok
        assert len(list((MIGRATIONS_DIR / backend.dialect).glob("*.sql"))) >= 2
    assert url


def test_only_the_scoring_clinician_or_a_recorder_may_record_and_no_oracle(
        backend: Backend, model, champion_dir) -> None:
    with backend.open() as store:
        mine = score_into(store, model, courses(1, "A"), caller_sub="dr-a", request_id="r1")
        theirs = score_into(store, model, courses(2, "A"), caller_sub="dr-b", request_id="r2")
        models = champion_dir.parent
        # dr-b scored A-1 too, but dr-c never scored anything: A-1 (exists) and Z-9 (never
        # scored) get byte-identical answers, and nothing is recorded.
        other = Principal("dr-c", "clinician")
        scored_by_others = post(store, models, RELAPSED, other)
        never_scored = post(store, models, dict(RELAPSED, course_id="Z-9"), other)
        assert scored_by_others.status_code == never_scored.status_code == 404
        assert scored_by_others.content == never_scored.content
        assert store.list_outcomes() == []
        # dr-a scored A-0 only: A-1 is someone else's course to dr-a as well.
        assert post(store, models, RELAPSED).status_code == 404
        # dr-b may, and sees only its own event ids, never dr-a's.
        ok = post(store, models, RELAPSED, Principal("dr-b", "clinician"))
        assert ok.status_code == 201, ok.text
        a1 = store.course_ref("A-1")
        assert set(ok.json()["linked_event_ids"]) == {e.event_id for e in theirs
                                                      if e.course_ref == a1}
        a0 = dict(RELAPSED, course_id="A-0")
        recorder = post(store, models, a0, Principal("follow-up", "outcome_recorder"))
        assert recorder.status_code == 201 and recorder.json()["linked_event_ids"] == []
        assert recorder.json()["linked_events"] == 2
        assert not {e.event_id for e in mine + theirs} & set(recorder.text.split('"'))
