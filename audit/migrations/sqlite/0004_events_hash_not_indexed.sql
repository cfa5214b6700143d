-- The prediction chain's `hash` column loses its UNIQUE index. Nothing looks a row up
-- by its hash (verification walks the chain in seq order, checkpoints name a seq), and an
-- index keyed by random values cost every append a write into a random page: a 100-row
-- request's commit 11.6-12.3 -> 8.9-9.1 ms of CPU in a 300k-row store (bench/NOTES.md,
-- session 8). SQLite cannot drop a column constraint's index, so the table is rebuilt:
-- same columns, every row copied unchanged (the chain verifies as before), the other
-- indexes and the append-only triggers made again. DROP TABLE fires no DELETE trigger.
-- The other chains, a few rows a minute, keep theirs.

CREATE TABLE audit_events_rebuilt (
    seq           INTEGER PRIMARY KEY,   -- chain position 1..n, no gaps
    event_id      TEXT NOT NULL UNIQUE,
    ts            TIMESTAMP NOT NULL,    -- UTC
    request_id    TEXT NOT NULL,
    caller_sub    TEXT NOT NULL,
    caller_role   TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    patient_ref   TEXT NOT NULL,         -- keyed surrogate, never the raw id
    course_ref    TEXT NOT NULL,
    model_name    TEXT NOT NULL,
    model_version TEXT NOT NULL,
    model_sha256  TEXT NOT NULL,
    features      TEXT NOT NULL,
    probability   REAL NOT NULL,
    risk_band     TEXT NOT NULL,
    thresholds    TEXT NOT NULL,
    shap_values   TEXT NOT NULL,
    shap_base     REAL NOT NULL,
    latency_ms    REAL NOT NULL,
    key_id        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);

INSERT INTO audit_events_rebuilt SELECT * FROM audit_events ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_rebuilt RENAME TO audit_events;

CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_model_version ON audit_events (model_version);
CREATE INDEX audit_events_caller_sub ON audit_events (caller_sub);
CREATE INDEX audit_events_patient_ref ON audit_events (patient_ref);
CREATE INDEX audit_events_course_ref ON audit_events (course_ref);
CREATE INDEX audit_events_request_id ON audit_events (request_id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
