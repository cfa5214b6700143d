"""SQLAlchemy Core tables of the four chains, for queries only.

The DDL (columns, constraints, append-only triggers) is in
migrations/<dialect>/*.sql; these definitions only name the columns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    literal_column,
    select,
    union_all,
)

from audit.events import ACCESS_CHAIN, JOB_CHAIN, OUTCOME_CHAIN, PREDICTION_CHAIN, ChainName

_meta = MetaData()


def _head_columns() -> list[Column[Any]]:
    return [Column("seq", Integer, primary_key=True, autoincrement=False),
            Column("event_id", String), Column("ts", DateTime(timezone=True))]


def _link_columns() -> list[Column[Any]]:
    return [Column("key_id", Text), Column("prev_hash", Text), Column("hash", Text)]


events_table = Table(
    "audit_events", _meta, *_head_columns(),
    *(Column(n, Text) for n in ("request_id", "caller_sub", "caller_role", "endpoint",
                                "patient_ref", "course_ref", "model_name", "model_version",
                                "model_sha256", "features")),
    Column("probability", Float), Column("risk_band", Text), Column("thresholds", Text),
    Column("shap_values", Text), Column("shap_base", Float), Column("latency_ms", Float),
    *_link_columns(),
)
access_table = Table(
    "audit_access", _meta, *_head_columns(),
    *(Column(n, Text) for n in ("caller_sub", "caller_role", "action", "event_ids", "filters")),
    *_link_columns(),
)
outcomes_table = Table(
    "audit_outcomes", _meta, *_head_columns(),
    *(Column(n, Text) for n in ("caller_sub", "caller_role", "course_ref", "outcome",
                                "relapse_date", "followup_end_date", "linked_event_ids")),
    *_link_columns(),
)
jobs_table = Table(
    "audit_jobs", _meta, *_head_columns(),
    *(Column(n, Text) for n in ("job_id", "caller_sub", "caller_role", "details")),
    *_link_columns(),
)

TABLES: dict[ChainName, Table] = {PREDICTION_CHAIN: events_table, ACCESS_CHAIN: access_table,
                                  OUTCOME_CHAIN: outcomes_table, JOB_CHAIN: jobs_table}
# Every chain the store writes, verifies, checkpoints and exports, in that order.
CHAINS: tuple[ChainName, ...] = (PREDICTION_CHAIN, ACCESS_CHAIN, OUTCOME_CHAIN, JOB_CHAIN)
# Plain SQL valid on both dialects: read once per write transaction, and building the
# Core select (cache key, compile) cost more than running it.
# Bandit B608 (SQL built from strings) is a false positive: the names are the constants above.
HEAD_SQL: dict[ChainName, str] = {
    chain: f"SELECT seq, hash, ts FROM {table.name} ORDER BY seq DESC LIMIT 1"  # nosec B608
    for chain, table in TABLES.items()}
# The writer's statements, columns in table order (rows go in as plain tuples).
INSERT_SQL: dict[ChainName, str] = {
    chain: f"INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) "  # nosec B608
           f"VALUES ({', '.join('?' for _ in table.columns)})"
    for chain, table in TABLES.items()}
COPY_SQL: dict[ChainName, str] = {
    chain: f"COPY {table.name} ({', '.join(c.name for c in table.columns)}) FROM STDIN"
    for chain, table in TABLES.items()}


# The prediction chain's patient and course lookups use the last REF_KEY_CHARS hex digits
# of each keyed surrogate: random keys a quarter of the whole ref's size. PostgreSQL indexes
# them on the table (postgresql/0006). SQLite keeps them out of the append's transaction
# (sqlite/0006): an append writes them to `audit_ref_tail` in seq order, and the store's
# background thread moves them into `audit_ref_index` in sorted batches.
REF_KEY_CHARS = 16
REF_KEYED = ("patient_ref", "course_ref")

ref_tail_table = Table(
    "audit_ref_tail", _meta, Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("patient_key", Text), Column("course_key", Text))
ref_index_table = Table(
    "audit_ref_index", _meta, Column("kind", Text, primary_key=True),
    Column("ref_key", Text, primary_key=True), Column("seq", Integer, primary_key=True))
ref_indexed_table = Table("audit_ref_indexed", _meta, Column("upto", Integer))


def ref_key(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The indexed expression of a keyed-surrogate column, spelled as the index spells it:
    the constant inline (a bound parameter would not match the index's expression)."""
    return func.substr(column, func.length(column) - literal_column(str(REF_KEY_CHARS - 1)))


def ref_is(name: str, ref: str, *, batched: bool) -> ColumnElement[bool]:
    """`audit_events.<name> = ref` through its lookup key: the candidate rows are found by
    the key (a subquery, so neither planner prefers walking the table newest first for a
    LIMIT), then the whole ref is compared, so two refs sharing a key never mix.

    `batched` (SQLite from migration 0006): the candidates are the batched index's rows up
    to its mark and the tail's past it, read in the statement's one snapshot, so a row is
    found whether or not the background thread has indexed it yet, and never twice."""
    column = events_table.c[name]
    key = ref[-REF_KEY_CHARS:]
    if not batched:
        return and_(events_table.c.seq.in_(select(events_table.c.seq).where(
            ref_key(column) == key)), column == ref)
    kind = name.removesuffix("_ref")
    index, tail = ref_index_table, ref_tail_table
    upto = select(ref_indexed_table.c.upto).scalar_subquery()
    candidates = union_all(
        select(index.c.seq).where(index.c.kind == kind, index.c.ref_key == key),
        select(tail.c.seq).where(tail.c.seq > upto, tail.c[f"{kind}_key"] == key))
    return and_(events_table.c.seq.in_(candidates), column == ref)


# The background thread's move of the keys appended since `upto` (audit.store).
REF_TAIL_SQL = "INSERT INTO audit_ref_tail (seq, patient_key, course_key) VALUES (?, ?, ?)"
REF_TAIL_TOP_SQL = "SELECT (SELECT upto FROM audit_ref_indexed), coalesce(max(seq), 0) FROM audit_ref_tail"
REF_INDEX_MOVE_SQL = (
    "INSERT INTO audit_ref_index (kind, ref_key, seq) SELECT kind, ref_key, seq FROM ("
    "SELECT 'patient' AS kind, patient_key AS ref_key, seq FROM audit_ref_tail "
    "WHERE seq > :upto AND seq <= :top UNION ALL "
    "SELECT 'course', course_key, seq FROM audit_ref_tail WHERE seq > :upto AND seq <= :top) "
    "ORDER BY kind, ref_key, seq")
REF_INDEXED_SQL = "UPDATE audit_ref_indexed SET upto = :top"
# Prediction rows a lookup by patient or course would miss: no tail row, a tail key that is
# not the row's, or (up to the mark) a key missing from the index. Extra index entries
# need no check: a lookup compares the whole ref after the key.
REF_KEYS_MISSING_SQL = (
    "SELECT count(*) FROM audit_events e LEFT JOIN audit_ref_tail t ON t.seq = e.seq "
    "WHERE t.seq IS NULL "
    "OR t.patient_key != substr(e.patient_ref, length(e.patient_ref) - 15) "
    "OR t.course_key != substr(e.course_ref, length(e.course_ref) - 15) "
    "OR (e.seq <= (SELECT upto FROM audit_ref_indexed) AND ("
    "NOT EXISTS (SELECT 1 FROM audit_ref_index i WHERE i.kind = 'patient' "
    "AND i.ref_key = t.patient_key AND i.seq = e.seq) "
    "OR NOT EXISTS (SELECT 1 FROM audit_ref_index i WHERE i.kind = 'course' "
    "AND i.ref_key = t.course_key AND i.seq = e.seq)))")
