"""The writer's rows (executemany on SQLite, COPY on PostgreSQL) are stored exactly as the
SQLAlchemy insert of `row_from_event` dicts stored them, on both backends."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from audit import PredictionColumns, PredictionEvent
from audit.database import dialect_of, make_engine, migrate
from audit.events import PREDICTION_CHAIN, row_from_event
from audit.tables import TABLES
from tests.service.test_audit_store import Backend, _pg_schema, backend  # noqa: F401
from tests.unit.test_audit_rows import EDGES, NAMES, SHARED, THRESHOLDS

LINK = ("seq", "key_id", "prev_hash", "hash")


def _exact(value: object) -> object:
    """Floats by their bits (-0.0 is not 0.0 here), everything else as it is."""
    return struct.pack("<d", value) if isinstance(value, float) else value


def _event_fields(stored: object) -> dict:
    return {k: getattr(stored, k) for k in PredictionEvent.model_fields}


def _raw_rows(url: str, dialect: str) -> list[tuple]:
    columns = ", ".join(c.name for c in TABLES[PREDICTION_CHAIN].columns)
    # What the database holds: SQLite's storage class of each value, PostgreSQL's text of ts.
    extra = ("typeof(ts), typeof(probability), typeof(features)" if dialect == "sqlite"
             else "ts::text, probability::text, pg_column_size(features)")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {columns}, {extra} FROM audit_events "  # nosec B608
                                     "ORDER BY seq")).all()
    finally:
        engine.dispose()
    return [tuple(_exact(v) for v in row) for row in rows]


@pytest.fixture
def scratch(backend: Backend, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """An empty audit schema beside the store's, for the old writer's rows."""
    if backend.dialect == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'old.db'}"])
    else:
        urls = _pg_schema(backend.url.split("?")[0])
    for url in urls:
        engine = make_engine(url)
        with engine.connect().execution_options(audit_write=True) as conn, conn.begin():
            migrate(conn, dialect_of(engine))
        engine.dispose()
        yield url


def test_stored_rows_are_what_the_event_insert_stored(backend: Backend,  # noqa: F811
                                                      scratch: str) -> None:
    rng = np.random.default_rng(5)
    n = 12
    features = rng.normal(size=(n, len(NAMES))) * 10.0 ** rng.integers(-9, 20, (n, len(NAMES)))
    features[rng.random(features.shape) < 0.2] = math.nan
    features[0, :len(EDGES) % len(NAMES)] = -0.0
    contributions = np.array([EDGES[(i * 3 + j) % len(EDGES)] for i in range(n)
                              for j in range(len(NAMES))]).reshape(n, len(NAMES))
    with backend.open() as store:
        cols = PredictionColumns.from_scores(
            feature_names=NAMES, features=features, contributions=contributions,
            probability=np.linspace(0, 1, n) * np.where(np.arange(n) % 2, 1.0, -0.0),
            shap_base=contributions[:, 0], risk_band=["high", "lów"] * (n // 2),
            patient_refs=store.surrogates.patients([f"M{i}" for i in range(n)]),
            course_refs=store.surrogates.courses([f"C{i}" for i in range(n)]),
            thresholds=THRESHOLDS, latency_ms=1e-05, **SHARED)
        stored = store.append_many(cols)
        # and one event appended as an event (the same writer, from_events' columns)
        one = store.append(PredictionEvent.model_validate(
            {**_event_fields(stored[1]), "event_id": "e" * 32}))
        assert store.verify().ok
    rows = [{**row_from_event(PREDICTION_CHAIN, PredictionEvent.model_validate(_event_fields(s))),
             **{k: getattr(s, k) for k in LINK}} for s in [*stored, one]]
    engine = make_engine(scratch)
    try:
        with engine.begin() as conn:
            conn.execute(TABLES[PREDICTION_CHAIN].insert(), rows)  # the writer before
    finally:
        engine.dispose()
    new, old = _raw_rows(backend.url, backend.dialect), _raw_rows(scratch, backend.dialect)
    assert len(new) == n + 1
    assert new == old
