"""Prediction rows built column-wise: every course of a request or a batch chunk at once.

A `PredictionColumns` holds the prediction chain's columns for n rows, JSON columns as
their canonical text, exactly what `row_from_event` and `content_text` make of one
`PredictionEvent` each (tests/unit/test_audit_rows.py proves it byte for byte). Built
from scores (`from_scores`: matrices, arrays and the fields a request or chunk shares)
or from validated events (`from_events`); the store writes both the same way.

Why column-wise: one pydantic event per course, a dict per feature vector and a JSON
encoder walk per event cost more than writing the row. Here the numbers of a whole
feature or SHAP matrix become text in one orjson call (`canonical.float_texts`), each
row's JSON is a fixed template filled with them (the keys and their order are the same
for every row), and each row's hashed content another.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any, ClassVar

import numpy as np
import orjson
from pydantic import create_model

from audit.canonical import (
    canonical_json,
    fill_rows,
    float_texts,
    format_ts,
    normalise_ts,
    once_per_value,
)
from audit.events import (
    FLOAT_COLUMNS,
    PREDICTION_CHAIN,
    SHA256_PATTERN,
    SHORT_MAX,
    SURROGATE_PATTERN,
    ChainName,
    PredictionEvent,
    StoredPrediction,
    new_event_ids,
)

# What one request or chunk shares, validated once with PredictionEvent's own field rules.
_SHARED = ("request_id", "caller_sub", "caller_role", "endpoint", "model_name",
           "model_version", "model_sha256", "thresholds", "latency_ms")
_Shared = create_model(  # type: ignore[call-overload]
    "_Shared", __config__=PredictionEvent.model_config,
    **{n: (PredictionEvent.model_fields[n].annotation, PredictionEvent.model_fields[n])
       for n in _SHARED})

_TEXT = ("request_id", "caller_sub", "caller_role", "endpoint", "model_name",
         "model_version", "risk_band")  # free text: JSON-escaped
# Matched against a pattern admitting only [A-Za-z0-9_.-]: their JSON text is the value quoted.
_PATTERNED = {"event_id": r"[0-9a-f]{32}", "patient_ref": SURROGATE_PATTERN[1:-1],
              "course_ref": SURROGATE_PATTERN[1:-1], "model_sha256": SHA256_PATTERN[1:-1]}
_JSON = ("features", "thresholds", "shap_values")


@dataclass(frozen=True)
class PredictionColumns:
    """n prediction rows, one list per column (same order as the table's content columns);
    `features`, `thresholds` and `shap_values` hold canonical JSON text."""

    event_id: list[str]
    ts: list[datetime]
    request_id: list[str]
    caller_sub: list[str]
    caller_role: list[str]
    endpoint: list[str]
    patient_ref: list[str]
    course_ref: list[str]
    model_name: list[str]
    model_version: list[str]
    model_sha256: list[str]
    features: list[str]
    probability: list[float]
    risk_band: list[str]
    thresholds: list[str]
    shap_values: list[str]
    shap_base: list[float]
    latency_ms: list[float]

    chain: ClassVar[ChainName] = PREDICTION_CHAIN

    def __post_init__(self) -> None:
        """The rules PredictionEvent applies, column by column (messages name the column,
        never a value: they can hold identifiers)."""
        n = len(self.event_id)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"column {f.name} has another length than event_id")
        for name in _TEXT:
            if not all(type(v) is str and 0 < len(v) <= SHORT_MAX
                       for v in set(getattr(self, name))):
                raise ValueError(f"{name} must be text of 1-{SHORT_MAX} characters")
        for name, pattern in _PATTERNED.items():
            values = getattr(self, name)
            if not all(type(v) is str for v in values) or (
                    n and re.fullmatch(f"(?:{pattern}\n)*", "\n".join(values) + "\n") is None):
                raise ValueError(f"{name} is not of its required form")
        if any(t.tzinfo is None for t in set(self.ts)):
            raise ValueError("ts must be timezone-aware")
        p = np.asarray(self.probability, dtype=np.float64)
        if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
            raise ValueError("probability must be within 0-1")
        if not np.isfinite(np.asarray(self.shap_base, dtype=np.float64)).all():
            raise ValueError("non-finite number cannot be audited")
        lat = np.asarray(self.latency_ms, dtype=np.float64)
        if not (np.isfinite(lat).all() and (lat >= 0).all()):
            raise ValueError("latency_ms must be a finite number >= 0")

    def __len__(self) -> int:
        return len(self.event_id)

    # -- builders ------------------------------------------------------------------

    @classmethod
    def from_scores(cls, *, feature_names: Sequence[str], features: np.ndarray,
                    contributions: np.ndarray, probability: np.ndarray,
                    shap_base: np.ndarray, risk_band: Sequence[str],
                    patient_refs: list[str], course_refs: list[str],
                    thresholds: Mapping[str, float], latency_ms: float, request_id: str,
                    caller_sub: str, caller_role: str, endpoint: str, model_name: str,
                    model_version: str, model_sha256: str,
                    ts: datetime | None = None) -> PredictionColumns:
        """The rows of n scored courses: `features` and `contributions` are n x k matrices
        over `feature_names` (a NaN feature is missing: audited as null), `probability`,
        `shap_base` and `risk_band` one value per course. One event time for all rows."""
        shared: dict[str, Any] = _Shared.model_validate(dict(
            request_id=request_id, caller_sub=caller_sub, caller_role=caller_role,
            endpoint=endpoint, model_name=model_name, model_version=model_version,
            model_sha256=model_sha256, thresholds=thresholds, latency_ms=latency_ms)).__dict__
        n = len(course_refs)
        fill = _template(tuple(feature_names))
        return cls(
            event_id=new_event_ids(n),
            ts=[normalise_ts(ts or datetime.now(UTC))] * n,
            **{name: [shared[name]] * n for name in _SHARED
               if name not in ("thresholds", "latency_ms")},
            patient_ref=list(patient_refs), course_ref=list(course_refs),
            features=fill(features, nan_as_null=True),
            probability=np.asarray(probability, dtype=np.float64).tolist(),
            risk_band=[str(b) for b in risk_band],
            thresholds=[canonical_json(shared["thresholds"])] * n,
            shap_values=fill(contributions, nan_as_null=False),
            shap_base=np.asarray(shap_base, dtype=np.float64).tolist(),
            latency_ms=[float(shared["latency_ms"])] * n,
        )

    @classmethod
    def from_events(cls, events: Sequence[PredictionEvent]) -> PredictionColumns:
        """The rows of validated events, each JSON field serialised on its own."""
        cols: dict[str, list[Any]] = {f.name: [] for f in fields(cls)}
        for event in events:
            values = event.__dict__
            for name, column in cols.items():
                value = values[name]
                if name in _JSON:
                    value = canonical_json(value)
                elif name in FLOAT_COLUMNS:
                    value = float(value)  # an int hashes as the float the column holds
                elif name == "ts":
                    value = normalise_ts(value)
                column.append(value)
        return cls(**cols)

    # -- what the store writes and hashes ------------------------------------------

    def contents(self) -> list[str]:
        """Each row's canonical content text (`audit.events.content_text` of its row)."""
        texts = {
            **{name: _json_strings(getattr(self, name)) for name in _TEXT},
            **{name: getattr(self, name) for name in (*_PATTERNED, *_JSON)},
            **{name: float_texts(np.asarray(getattr(self, name), dtype=np.float64))
               for name in FLOAT_COLUMNS},
            "ts": _json_ts(self.ts),
        }
        return [_CONTENT % row for row in zip(*(texts[name] for name in _CONTENT_ORDER),
                                              strict=True)]

    def with_ts(self, ts: Sequence[datetime]) -> PredictionColumns:
        return replace(self, ts=list(ts))

    def columns(self) -> dict[str, Sequence[Any]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def stored(self, seqs: Sequence[int], key_id: str, prev_hashes: Sequence[str],
               hashes: Sequence[str]) -> list[StoredPrediction]:
        """The rows as the store hands them back once committed (JSON columns parsed)."""
        cols = self.columns()
        out = []
        for i in range(len(self)):
            values = {name: col[i] for name, col in cols.items()}
            for name in _JSON:
                values[name] = orjson.loads(values[name])
            out.append(StoredPrediction.model_construct(
                **values, seq=seqs[i], key_id=key_id, prev_hash=prev_hashes[i],
                hash=hashes[i]))
        return out


_CONTENT_ORDER = tuple(sorted(f.name for f in fields(PredictionColumns)))
# The content of one row: the keys in canonical (sorted) order around each column's text.
_CONTENT = "{" + ",".join(
    f'{json.dumps(name)}:' + ('"%s"' if name in _PATTERNED else "%s")
    for name in _CONTENT_ORDER) + "}"


def _json_strings(values: list[str]) -> list[str]:
    """JSON text of each string, escaped once per distinct value (shared fields, bands)."""
    return once_per_value(values, partial(json.dumps, ensure_ascii=True))


def _json_ts(values: list[datetime]) -> list[str]:
    return once_per_value(values, lambda t: json.dumps(format_ts(t)))


class _Filler:
    """Canonical JSON objects over fixed keys, from the rows of a float matrix."""

    def __init__(self, names: tuple[str, ...]) -> None:
        if len(set(names)) != len(names) or not all(isinstance(n, str) for n in names):
            raise ValueError("feature names must be distinct strings")
        self.order = np.array(sorted(range(len(names)), key=lambda i: names[i]), dtype=np.intp)
        self.width = len(names)
        # `%` in a key would be read as a conversion: doubled, it stays itself.
        self.template = "{" + ",".join(
            json.dumps(names[i], ensure_ascii=True).replace("%", "%%") + ":%s"
            for i in self.order) + "}"

    def __call__(self, matrix: np.ndarray, *, nan_as_null: bool) -> list[str]:
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[1] != self.width:
            raise ValueError("matrix does not have one column per feature name")
        return fill_rows(m[:, self.order], self.template, nan_as_null=nan_as_null)


@lru_cache(maxsize=8)
def _template(names: tuple[str, ...]) -> _Filler:
    return _Filler(names)
