-- Audit store, PostgreSQL. Append-only: a trigger rejects UPDATE, DELETE and
-- TRUNCATE. Unqualified names land in the first schema of search_path.
-- JSON columns hold canonical JSON text (not jsonb, which re-orders keys),
-- exactly what the chain hash covers; cast to jsonb to query inside them.

CREATE TABLE audit_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit_events (
    seq           BIGINT PRIMARY KEY,    -- chain position 1..n, no gaps
    event_id      TEXT NOT NULL UNIQUE,
    ts            TIMESTAMPTZ NOT NULL,
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
    probability   DOUBLE PRECISION NOT NULL,
    risk_band     TEXT NOT NULL,
    thresholds    TEXT NOT NULL,
    shap_values   TEXT NOT NULL,
    shap_base     DOUBLE PRECISION NOT NULL,
    latency_ms    DOUBLE PRECISION NOT NULL,
    key_id        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_model_version ON audit_events (model_version);
CREATE INDEX audit_events_caller_sub ON audit_events (caller_sub);
CREATE INDEX audit_events_patient_ref ON audit_events (patient_ref);

CREATE TABLE audit_access (
    seq         BIGINT PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    ts          TIMESTAMPTZ NOT NULL,
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

CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'audit tables are append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME,
        ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_access_append_only BEFORE UPDATE OR DELETE ON audit_access
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_access_no_truncate BEFORE TRUNCATE ON audit_access
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_meta_append_only BEFORE UPDATE OR DELETE ON audit_meta
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_meta_no_truncate BEFORE TRUNCATE ON audit_meta
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
