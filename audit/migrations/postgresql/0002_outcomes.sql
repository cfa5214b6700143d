-- Observed outcomes of served courses: a third HMAC chain ("outcome"),
-- append-only like the others. Linked to predictions by course surrogate and
-- event ids; prediction rows are never rewritten.

CREATE TABLE audit_outcomes (
    seq               BIGINT PRIMARY KEY,
    event_id          TEXT NOT NULL UNIQUE,
    ts                TIMESTAMPTZ NOT NULL,
    caller_sub        TEXT NOT NULL,
    caller_role       TEXT NOT NULL,
    course_ref        TEXT NOT NULL,         -- keyed surrogate, never the raw id
    outcome           TEXT NOT NULL,         -- relapsed | no_relapse | censored
    relapse_date      TEXT,
    followup_end_date TEXT NOT NULL,
    linked_event_ids  TEXT NOT NULL,         -- canonical JSON list
    key_id            TEXT NOT NULL,
    prev_hash         TEXT NOT NULL,
    hash              TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_outcomes_course_ref ON audit_outcomes (course_ref);
CREATE INDEX audit_events_course_ref ON audit_events (course_ref);

CREATE TRIGGER audit_outcomes_append_only BEFORE UPDATE OR DELETE ON audit_outcomes
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_outcomes_no_truncate BEFORE TRUNCATE ON audit_outcomes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
