-- Batch scoring jobs (jobs/score_batch.py): one row per `make score-batch`
-- run, naming the input's sha256 and row counts and the prediction-chain
-- range its events occupy. Its own HMAC chain ("batch_job"), append-only.

CREATE TABLE audit_jobs (
    seq          BIGINT PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    ts           TIMESTAMPTZ NOT NULL,
    job_id       TEXT NOT NULL UNIQUE,
    caller_sub   TEXT NOT NULL,
    caller_role  TEXT NOT NULL,
    details      TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_events_request_id ON audit_events (request_id);

CREATE TRIGGER audit_jobs_append_only BEFORE UPDATE OR DELETE ON audit_jobs
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_jobs_no_truncate BEFORE TRUNCATE ON audit_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
