-- The prediction chain's `hash` column loses its UNIQUE index. Nothing looks a row up
-- by its hash (verification walks the chain in seq order, checkpoints name a seq), and an
-- index keyed by random values cost every append a write into a random page (and its
-- full-page image in the WAL after each checkpoint). See sqlite/0004 for the figures.
-- The other chains, a few rows a minute, keep theirs.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_hash_key;
