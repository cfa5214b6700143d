"""Audit event models per chain, and how a row's hashed content is derived from its columns.

Models hide their input in validation errors (`hide_input_in_errors`) so a
rejected value (possibly a raw patient identifier) never reaches a log line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import uuid_utils
from pydantic import BaseModel, ConfigDict, Field, field_validator

from audit.canonical import canonical_json, format_ts, normalise_ts, plain_scalar

ChainName = Literal["prediction", "access", "outcome", "batch_job"]
PREDICTION_CHAIN: Final = "prediction"
ACCESS_CHAIN: Final = "access"
OUTCOME_CHAIN: Final = "outcome"
JOB_CHAIN: Final = "batch_job"
GENESIS_HASH = "0" * 64

# A surrogate is "<key id>.<64 hex>" so a raw identifier cannot be stored by mistake.
SURROGATE_PATTERN = r"^[A-Za-z0-9_-]{1,40}\.[0-9a-f]{64}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"

FeatureValue = bool | int | float | str | None
SHORT_MAX = 200
Short = Annotated[str, Field(min_length=1, max_length=SHORT_MAX)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True,
                              allow_inf_nan=False)


class _Event(_Model):
    """What every chained event carries: its id and its time (UTC)."""

    event_id: str = Field(default_factory=lambda: new_event_id(), pattern=r"^[0-9a-f]{32}$")
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("ts")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return normalise_ts(v)


class PredictionEvent(_Event):
    """What the service reports for one served prediction."""

    request_id: Short
    caller_sub: Short
    caller_role: Short
    endpoint: Short
    patient_ref: str = Field(pattern=SURROGATE_PATTERN)
    course_ref: str = Field(pattern=SURROGATE_PATTERN)
    model_name: Short
    model_version: Short
    model_sha256: str = Field(pattern=SHA256_PATTERN)
    features: dict[str, FeatureValue]
    probability: float = Field(ge=0.0, le=1.0)
    risk_band: Short
    thresholds: dict[str, float]
    shap_values: dict[str, float]
    shap_base: float
    latency_ms: float = Field(ge=0.0)

    @field_validator("features", "thresholds", "shap_values", mode="before")
    @classmethod
    def _builtin_scalars(cls, v: Any) -> Any:
        return {k: plain_scalar(x) for k, x in v.items()} if isinstance(v, Mapping) else v

    @field_validator("probability", "shap_base", "latency_ms", mode="before")
    @classmethod
    def _builtin_scalar(cls, v: Any) -> Any:
        return plain_scalar(v)


class AccessEvent(_Event):
    """One auditor read: who looked at what (event ids and/or the filters used)."""

    caller_sub: Short
    caller_role: Short
    action: Short
    event_ids: list[str] = Field(default_factory=list)
    filters: dict[str, Any] = Field(default_factory=dict)

OutcomeValue = Literal["relapsed", "no_relapse", "censored"]
ISO_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class OutcomeEvent(_Event):
    """An observed outcome of a served course, linked to its predictions by reference.

    The prediction rows are never touched: the link is the course surrogate
    plus the ids of the prediction events that existed when it was recorded.
    """

    caller_sub: Short
    caller_role: Short
    course_ref: str = Field(pattern=SURROGATE_PATTERN)
    outcome: OutcomeValue  # heavy drinking within 180 days of course end, or censored
    relapse_date: str | None = Field(default=None, pattern=ISO_DATE_PATTERN)
    followup_end_date: str = Field(pattern=ISO_DATE_PATTERN)
    linked_event_ids: list[str] = Field(default_factory=list)

class JobEvent(_Event):
    """One batch scoring job: what it read, how far it got, which prediction rows it wrote."""

    job_id: Short  # the request_id of the job's prediction events
    caller_sub: Short
    caller_role: Short
    details: dict[str, Any]  # input sha256, row counts, status, prediction seq range, model

AuditEvent = PredictionEvent | AccessEvent | OutcomeEvent | JobEvent


class ChainLink(_Model):
    """Chain bookkeeping stored on each row."""

    seq: int = Field(ge=1)
    key_id: str
    prev_hash: str
    hash: str


class StoredPrediction(PredictionEvent, ChainLink):
    pass


class StoredAccess(AccessEvent, ChainLink):
    pass


class StoredOutcome(OutcomeEvent, ChainLink):
    pass


class StoredJob(JobEvent, ChainLink):
    pass


class EventSummary(_Model):
    """One row of the auditor's list view (no feature vector or explanation)."""

    seq: int
    event_id: str
    ts: datetime
    request_id: str
    caller_sub: str
    caller_role: str
    endpoint: str
    patient_ref: str
    model_name: str
    model_version: str
    probability: float
    risk_band: str


# Columns holding JSON text, and float columns (coerced so ints hash like floats).
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    PREDICTION_CHAIN: ("features", "thresholds", "shap_values"),
    ACCESS_CHAIN: ("event_ids", "filters"),
    OUTCOME_CHAIN: ("linked_event_ids",),
    JOB_CHAIN: ("details",),
}
FLOAT_COLUMNS = ("probability", "shap_base", "latency_ms")


def row_from_event(chain: ChainName, event: AuditEvent) -> dict[str, Any]:
    """Database column values for an event's content (JSON fields as canonical text)."""
    row = event.model_dump()
    for name in JSON_COLUMNS[chain]:
        row[name] = canonical_json(row[name])
    return row


def content_from_row(chain: ChainName, row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed content of a stored row: JSON parsed, time and floats canonical.

    Both the writer and the verifier derive the hash input from the row this
    way, so what is hashed is exactly what the database holds.
    """
    content: dict[str, Any] = {}
    for name in _CONTENT_FIELDS[chain]:
        value = row[name]
        if name in JSON_COLUMNS[chain]:
            value = json.loads(value)
        elif name == "ts":
            value = format_ts(value) if isinstance(value, datetime) else str(value)
        elif name in FLOAT_COLUMNS:
            value = float(value)
        content[name] = value
    return content


def content_text(chain: ChainName, row: Mapping[str, Any]) -> str:
    """`canonical_json(content_from_row(chain, row))` without parsing the JSON columns back.

    They already hold canonical text, which parses back and re-serialises to itself, so
    it is spliced in as is; the other fields are serialised exactly as there.
    """
    parts = []
    for name in _SORTED_CONTENT_FIELDS[chain]:
        value = row[name]
        if name in JSON_COLUMNS[chain]:
            text = value
        elif name == "ts":
            text = json.dumps(format_ts(value) if isinstance(value, datetime) else str(value))
        elif name in FLOAT_COLUMNS:
            text = canonical_json(float(value))
        else:
            text = canonical_json(value)
        parts.append(f"{json.dumps(name)}:{text}")
    return "{" + ",".join(parts) + "}"


def chain_message(chain: ChainName, seq: int, key_id: str, prev_hash: str,
                  content: Mapping[str, Any]) -> bytes:
    """Bytes the HMAC signs: chain name and position bind the row to its place."""
    body = {"chain": chain, "seq": seq, "key_id": key_id, "prev_hash": prev_hash,
            "content": content}
    return canonical_json(body).encode("ascii")


def chain_message_text(chain: ChainName, seq: int, key_id: str, prev_hash: str,
                       content_text: str) -> bytes:
    """`chain_message` from the content's canonical text: the same bytes, without
    re-serialising the content (so it can be prepared before the write lock is taken).

    Canonical key order of the body: chain, content, key_id, prev_hash, seq.
    """
    before, after = message_parts(chain, key_id)
    return f"{before}{content_text}{after}{message_tail(prev_hash, seq)}".encode("ascii")


def message_parts(chain: ChainName, key_id: str) -> tuple[str, str]:
    """What every message of `chain` signed with `key_id` holds before and after the content.

    message = before + content + after + message_tail(prev_hash, seq): all but the tail is
    known before the row's place in the chain is, so it can be hashed ahead of the lock.
    """
    return (f'{{"chain":{json.dumps(chain)},"content":',
            f',"key_id":{json.dumps(key_id)},"prev_hash":')


def message_tail(prev_hash: str, seq: int) -> str:
    return f'{json.dumps(prev_hash)},"seq":{int(seq)}}}'


def new_event_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: its first 48 bits are the Unix time in ms.

    Time-ordered, not random (uuid4, before): the store's unique index on event_id then
    grows at its right edge instead of dirtying a random leaf page per row. A 100-row
    SQLite transaction wrote ~15 % fewer WAL bytes and committed ~23 % faster
    (bench/NOTES.md, "Request and audit paths, session 6"). The time it shows is the event's own
    `ts` to the millisecond, stored in the same row, so it reveals nothing new.
    """
    return uuid_utils.uuid7().hex


def new_event_ids(n: int) -> list[str]:
    """`n` event ids (`new_event_id`), in the order they were made."""
    return [new_event_id() for _ in range(n)]


_CONTENT_FIELDS: dict[str, tuple[str, ...]] = {
    PREDICTION_CHAIN: tuple(PredictionEvent.model_fields),
    ACCESS_CHAIN: tuple(AccessEvent.model_fields),
    OUTCOME_CHAIN: tuple(OutcomeEvent.model_fields),
    JOB_CHAIN: tuple(JobEvent.model_fields),
}
_SORTED_CONTENT_FIELDS = {chain: tuple(sorted(fields)) for chain, fields in _CONTENT_FIELDS.items()}
