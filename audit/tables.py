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


# The prediction chain's patient and course indexes hold the last REF_KEY_CHARS hex digits of
# each keyed surrogate (migrations sqlite/0005, postgresql/0006): random keys a quarter of
# the whole ref's size, so the leaves an append writes into are more often cached and split
# less often (still about one leaf per row and index: the keys are random).
REF_KEY_CHARS = 16
REF_KEYED = ("patient_ref", "course_ref")


def ref_key(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The indexed expression of a keyed-surrogate column, spelled as the index spells it:
    the constant inline (a bound parameter would not match the index's expression)."""
    return func.substr(column, func.length(column) - literal_column(str(REF_KEY_CHARS - 1)))


def ref_is(table: Table, name: str, ref: str) -> ColumnElement[bool]:
    """`table.<name> = ref` through the key index: the rows whose key matches are found in
    the index (a subquery, so neither planner prefers walking the table newest first for a
    LIMIT), then the whole ref is compared, so two refs sharing a key never mix."""
    column = table.c[name]
    return and_(table.c.seq.in_(select(table.c.seq).where(
        ref_key(column) == ref[-REF_KEY_CHARS:])), column == ref)
