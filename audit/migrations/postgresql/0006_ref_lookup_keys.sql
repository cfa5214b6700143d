-- The prediction chain's patient and course lookups are indexed by the last 16 hex digits
-- of each keyed surrogate, not by the whole ref: see sqlite/0005 for why and the figures.
DROP INDEX audit_events_patient_ref;
DROP INDEX audit_events_course_ref;
CREATE INDEX audit_events_patient_key ON audit_events ((substr(patient_ref, length(patient_ref) - 15)));
CREATE INDEX audit_events_course_key ON audit_events ((substr(course_ref, length(course_ref) - 15)));
