-- Prediction rows (~3 KB: two JSON texts of 45 numbers each) stay whole in the table,
-- uncompressed: the default (TOAST from 2 KB) compressed and moved their numbers, which
-- hardly compress, to the TOAST table and its index on every insert. Bench
-- (bench.audit_store.measure, same server, alternating): 80-99 -> 65-74 us per event;
-- the table takes ~35 % more space (bench/NOTES.md, "PostgreSQL rows inline").
-- Rows longer than 8160 bytes are still TOASTed. Applies to rows written from now on.
ALTER TABLE audit_events SET (toast_tuple_target = 8160);
