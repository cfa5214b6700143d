"""Canonical JSON and timestamps: the one text form every chain hash covers.

Both the writer and the verifier serialise through here, so a row's hash
input is the same bytes wherever it is computed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import orjson


def normalise_ts(value: datetime) -> datetime:
    """UTC, microsecond precision (what both SQLite and PostgreSQL keep exactly)."""
    if value.tzinfo is None:  # the database hands back naive UTC on SQLite
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_ts(value: datetime) -> str:
    return normalise_ts(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_BUILTIN = frozenset({float, int, str, bool, type(None)})


def plain_scalar(value: Any) -> Any:
    """numpy scalars -> Python scalars, so the service may pass them unconverted."""
    if type(value) in _BUILTIN:  # the common case, ~90 values an event: skip the lookup
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def _canon(value: Any, out: list[str]) -> None:
    value = plain_scalar(value)
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite number cannot be audited")
        # repr is the shortest exact round-trip form; +0.0 folds -0.0 (SQLite drops the sign).
        out.append(repr(value + 0.0))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=True))
    elif isinstance(value, datetime):
        out.append(json.dumps(format_ts(value)))
    elif isinstance(value, Mapping):
        keys = sorted(value)
        if not all(isinstance(k, str) for k in keys):
            raise ValueError("canonical JSON keys must be strings")
        out.append("{")
        for i, key in enumerate(keys):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=True))
            out.append(":")
            _canon(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _canon(item, out)
        out.append("]")
    else:
        raise ValueError(f"type {type(value).__name__} has no canonical form")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ts(value)
    plain = plain_scalar(value)
    if plain is value:
        raise ValueError(f"type {type(value).__name__} has no canonical form")
    return plain


_fast = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                         allow_nan=False, default=_default).encode


_NEGATIVE_ZERO = re.compile(r"-0\.0(?=[,}\]]|$)")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII, floats as repr: one text per value.

    The C encoder writes exactly this form (float repr, sorted keys); the
    Python walker is the reference and runs when a -0.0 may need folding.
    Keys follow JSON rules, so callers pass string keys (all content does).
    """
    text = _fast(value)
    # Only a whole -0.0 token needs folding; -0.0449 (common among SHAP values) does not.
    if _NEGATIVE_ZERO.search(text) is None:
        return text
    out: list[str] = []
    _canon(value, out)
    return "".join(out)


# orjson writes the shortest round-trip digits as repr does, but in its own notation below
# 1e-4 (0.00001 and 1.5e-7 where repr writes 1e-05 and 1.5e-07) and keeps the sign of -0.0.
# Everything else is identical (tests/unit/test_audit_rows.py samples every exponent and
# random bit patterns); these two classes take the reference path instead.
_ORJSON_NOTATION_FROM = 1e-4
# Values at the edges of that class and of repr's switch to exponents (1e16): if an orjson
# release moved either, every value takes the reference path (slower, never different).
_PROBES = (0.0, 1.0, -2.5, 1e-4, -1e-4, 0.00010000000000000002, 0.1, 123456789.123,
           9999999999999998.0, 1e16, -1.2345e20, 1e22, 1.7976931348623157e308, 5e-324 * 2**60,
           1e-10)
_ORJSON_AGREES = all(orjson.dumps(v).decode() == repr(v) for v in _PROBES)


def float_texts(values: np.ndarray, *, nan_as_null: bool = False) -> list[str]:
    """`canonical_json(float(v))` of every value of a float array, in one orjson call.

    NaN gives "null" when `nan_as_null` (a missing feature is audited as None), else, like
    any infinity, ValueError.
    """
    (row,), own = _row_texts(np.reshape(values, (1, -1)), nan_as_null)
    return _values(row, own.get(0, ()))


def fill_rows(matrix: np.ndarray, template: str, *, nan_as_null: bool = False) -> list[str]:
    """`template % tuple(float_texts(row))` for each row of a 2-D float array.

    Row by row, not through one flat list of every value: one `split` over a whole
    10k x 45 matrix and slices of it cost 7.1 us a row, this 5.4 (bench/NOTES.md).
    """
    rows, own = _row_texts(matrix, nan_as_null)
    if rows and not np.shape(matrix)[1]:
        return [template % ()] * len(rows)
    if not own:
        return [template % tuple(row.split(",")) for row in rows]
    # Rows with a value of orjson's own notation (most SHAP rows have one below 1e-4) are
    # filled once, from their fixed texts.
    return [template % tuple(row.split(",") if i not in own else _values(row, own[i]))
            for i, row in enumerate(rows)]


def _values(row: str, fixes: Iterable[tuple[int, str]]) -> list[str]:
    """The texts of one row's values, with the canonical text where orjson's differs."""
    texts = row.split(",") if row else []
    for j, text in fixes:
        texts[j] = text
    return texts


def _row_texts(matrix: np.ndarray, nan_as_null: bool,
               ) -> tuple[list[str], dict[int, list[tuple[int, str]]]]:
    """Each row's values as orjson writes them ("a,b,c"), and by row the (column, text) of
    the values whose canonical text differs from orjson's (0 < |x| < 1e-4, and -0.0).

    Few numpy calls and no errstate: NaN compares false without a warning, and a request's
    one-row matrices paid more for numpy's per-call cost than for their rows' texts.
    """
    m = np.ascontiguousarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError("expected a 2-D array")
    if not np.isfinite(m).all() and (not nan_as_null or np.isinf(m).any()):
        raise ValueError("non-finite number cannot be audited")
    if not _ORJSON_AGREES:
        return [",".join("null" if v != v else canonical_json(v) for v in row)
                for row in m.tolist()], {}
    if not m.shape[0]:
        return [], {}
    text = orjson.dumps(m, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    rows = text[2:-2].split("],[")
    # orjson writes 0 < |x| < 1e-4 as 0.0000... or with a negative exponent, -0.0 as a
    # token of its own: a small text without any of these has nothing to look for (the
    # masks below cost a one-course request more than its texts; scanning a big text for
    # the four marks costs more than the masks).
    if m.size <= _SCAN_TEXT_UP_TO and not (
            "e-" in text or "0.0000" in text or "-0.0," in text or "-0.0]" in text):
        return rows, {}
    a = np.abs(m)
    where = np.nonzero(((a < _ORJSON_NOTATION_FROM) & (a > 0)) | (m.view(np.int64) == _NEG_ZERO))
    own: dict[int, list[tuple[int, str]]] = {}
    # repr(v + 0.0) is `_canon`'s text of a finite float (canonical_json's, without its
    # encoder and its -0.0 scan)
    for i, j, v in zip(where[0].tolist(), where[1].tolist(), m[where].tolist(), strict=True):
        own.setdefault(i, []).append((j, repr(v + 0.0)))
    return rows, own


_NEG_ZERO = np.int64(-(2**63))  # the bits of -0.0 read as an int64
_SCAN_TEXT_UP_TO = 1024  # values


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def once_per_value(values: Iterable[K], fn: Callable[[K], V]) -> list[V]:
    """`[fn(v) for v in values]`, with fn called once per distinct value: a request's or
    chunk's rows share most of their texts and times."""
    done: dict[K, V] = {}
    return [done[v] if v in done else done.setdefault(v, fn(v)) for v in values]
