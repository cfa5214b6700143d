-- Batch scoring jobs (jobs/score_batch.py): one row per `make score-batch`
-- run, naming the input's sha256 and row counts and the prediction-chain
-- range its events occupy. Its own HMAC chain ("batch_job"), append-only.

CREATE TABLE audit_jobs (
    seq          INTEGER PRIMARY KEY,   -- chain position 1..n, no gaps
    event_id     TEXT NOT NULL UNIQUE,
    ts           TIMESTAMP NOT NULL,    -- UTC
    job_id       TEXT NOT NULL UNIQUE,  -- request_id of the job's prediction events
    caller_sub   TEXT NOT NULL,
    caller_role  TEXT NOT NULL,
    details      TEXT NOT NULL,         -- canonical JSON: input hash, counts, seq range
    key_id       TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_events_request_id ON audit_events (request_id);

CREATE TRIGGER audit_jobs_no_update BEFORE UPDATE ON audit_jobs
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_jobs_no_delete BEFORE DELETE ON audit_jobs
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
