"""On PostgreSQL the service's role may only read and append (the owner migrates)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from audit import AuditStore
from audit.installation import init_installation
from audit.paths import AuditPaths
from tests.service.test_audit_store import PG_DEFAULT, event

pytestmark = pytest.mark.postgres

FORBIDDEN = ["DROP TABLE audit_events", "ALTER TABLE audit_events DISABLE TRIGGER USER",
             "ALTER TABLE audit_access ADD COLUMN x TEXT", "UPDATE audit_events SET probability = 0",
             "DELETE FROM audit_access", "TRUNCATE audit_jobs", "DROP TRIGGER "
             "audit_events_append_only ON audit_events", "UPDATE audit_meta SET value = 'x'"]


@pytest.fixture
def installation(tmp_path: Path):
    base = os.environ.get("AUDIT_PG_URL") or PG_DEFAULT
    if base == "skip":
        pytest.skip("AUDIT_PG_URL=skip")
    schema, role = f"audit_role_{secrets.token_hex(4)}", f"audit_svc_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    owner = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    service = owner.set(username=role)
    paths = AuditPaths.under(tmp_path)
    try:
        init_installation(owner.render_as_string(hide_password=False), paths, service_role=role)
        yield service.render_as_string(hide_password=False), paths
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def test_service_role_appends_and_reads_but_cannot_change_anything(installation) -> None:
    url, paths = installation
    with AuditStore(url, paths=paths) as store:  # the service's connection
        for i in range(3):
            store.append(event(store, i))
        store.record_access("auditor-1", "auditor", "list_events")
        assert store.head()[0] == 3 and store.verify().ok
    engine = create_engine(url)
    try:
        for statement in FORBIDDEN:
            with pytest.raises(ProgrammingError) as info, engine.begin() as conn:
                conn.exec_driver_sql(statement)
            assert getattr(info.value.orig, "sqlstate", "") == "42501", statement  # no privilege
    finally:
        engine.dispose()
