-- Audit store, SQLite. Append-only: triggers abort any UPDATE or DELETE
-- (SQLite has no TRUNCATE; DELETE without WHERE fires the trigger too).
-- JSON columns hold canonical JSON text, exactly what the chain hash covers.

CREATE TABLE audit_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit_events (
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
    hash          TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_model_version ON audit_events (model_version);
CREATE INDEX audit_events_caller_sub ON audit_events (caller_sub);
CREATE INDEX audit_events_patient_ref ON audit_events (patient_ref);

CREATE TABLE audit_access (
    seq         INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    ts          TIMESTAMP NOT NULL,
    caller_sub  TEXT NOT NULL,
    caller_role TEXT NOT NULL,
    action      TEXT NOT NULL,
    event_ids   TEXT NOT NULL,
    filters     TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_access_ts ON audit_access (ts);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_access_no_update BEFORE UPDATE ON audit_access
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_access_no_delete BEFORE DELETE ON audit_access
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_meta_no_update BEFORE UPDATE ON audit_meta
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_meta_no_delete BEFORE DELETE ON audit_meta
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
