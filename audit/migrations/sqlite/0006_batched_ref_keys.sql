-- The prediction chain's patient and course lookup keys (the last 16 hex digits of each
-- keyed surrogate, as in 0005) leave the append's transaction. The refs are random, so an
-- index on them made every appended row write into a random leaf of each of the two
-- indexes. Now an append writes the keys into `audit_ref_tail`, in seq order (about one
-- page per hundred rows), and the store's background thread moves what the tail holds
-- beyond `audit_ref_indexed.upto` into `audit_ref_index` every few seconds, sorted by key,
-- so one leaf write serves many rows (audit.store.AuditStore.index_lookup_keys). A lookup
-- reads the index up to `upto` and the narrow tail past it, in one snapshot, then compares
-- the whole ref (audit.tables.ref_is). A 100-course /score into a 197k-event store: 58.0
-- -> 65.0 req/s, 16.9 -> 15.6 ms of server CPU (bench/NOTES.md, session 11).
-- PostgreSQL keeps its key indexes (postgresql/0006). No row of a chain changes.
DROP INDEX audit_events_patient_key;
DROP INDEX audit_events_course_key;

CREATE TABLE audit_ref_tail (
    seq         INTEGER PRIMARY KEY,  -- audit_events.seq
    patient_key TEXT NOT NULL,
    course_key  TEXT NOT NULL
);

CREATE TABLE audit_ref_index (
    kind    TEXT NOT NULL,            -- 'patient' or 'course'
    ref_key TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (kind, ref_key, seq)
) WITHOUT ROWID;

CREATE TABLE audit_ref_indexed (
    upto INTEGER NOT NULL             -- every seq up to here is in audit_ref_index
);

INSERT INTO audit_ref_tail (seq, patient_key, course_key)
SELECT seq, substr(patient_ref, length(patient_ref) - 15), substr(course_ref, length(course_ref) - 15)
FROM audit_events ORDER BY seq;
INSERT INTO audit_ref_index (kind, ref_key, seq)
SELECT kind, ref_key, seq FROM (
    SELECT 'patient' AS kind, patient_key AS ref_key, seq FROM audit_ref_tail
    UNION ALL
    SELECT 'course', course_key, seq FROM audit_ref_tail)
ORDER BY kind, ref_key, seq;
INSERT INTO audit_ref_indexed (upto) SELECT coalesce(max(seq), 0) FROM audit_ref_tail;

CREATE TRIGGER audit_ref_tail_no_update BEFORE UPDATE ON audit_ref_tail
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_ref_tail_no_delete BEFORE DELETE ON audit_ref_tail
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_ref_index_no_update BEFORE UPDATE ON audit_ref_index
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_ref_index_no_delete BEFORE DELETE ON audit_ref_index
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
-- The mark is one row, moved only by UPDATE: without it a lookup would skip the tail.
CREATE TRIGGER audit_ref_indexed_no_insert BEFORE INSERT ON audit_ref_indexed
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
CREATE TRIGGER audit_ref_indexed_no_delete BEFORE DELETE ON audit_ref_indexed
BEGIN SELECT RAISE(ABORT, 'audit tables are append-only'); END;
