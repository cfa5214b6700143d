"""Text or loosely typed columns -> typed columns, with a mask of bad cells per column.

CSV readers guess types; a single bad date would turn a whole column into
text. So every column is read as text and parsed here, field by field, and
an unparseable value becomes a per-row reason rather than a failed file.

Two parsers give the same result. `parse_column` (pandas) reads any dtype and
is the reference. The fast path reads pyarrow-backed text columns with arrow
compute: cells in the plain form (`-12.5`, `2024-01-31`) are parsed
vectorised; any other non-blank cell is parsed by `parse_column`'s rules, and
if one of those turns out to be a value (`1e3`, `2024-01-31T10:00`) the whole
column goes to `parse_column`, because pandas infers a column's resolution,
time zone and integer width from all its values together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.fields import FieldDef

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})
TZ_SUFFIX = r"\d[T ]\d.*(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"

# Plain decimals of at most 15 characters: at most 15 significant digits, so the
# arrow cast (correctly rounded) and pandas' parser give the same double.
PLAIN_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"
PLAIN_NUMBER_CHARS = 15
PLAIN_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_TRUE_SET = pa.array(sorted(TRUE_WORDS))
_FALSE_SET = pa.array(sorted(FALSE_WORDS))


def _blank(values: pd.Series) -> pd.Series:
    as_text = values.astype("str")
    return values.isna() | as_text.str.strip().eq("")


def parse_column(values: pd.Series, field: FieldDef) -> tuple[pd.Series, pd.Series]:
    """Parse one column; returns (typed values, mask of present-but-unparseable cells)."""
    blank = _blank(values)
    if field.kind in ("str", "category"):
        text = values.astype("str").str.strip()
        return text.where(~blank, None).astype("str"), pd.Series(False, index=values.index)
    if field.kind == "date":
        # A timestamp with a UTC offset names no single calendar day (and pandas refuses a
        # column mixing offsets): such a cell is unparseable, not a failed file.
        zoned = values.astype("str").str.strip().str.contains(TZ_SUFFIX, regex=True) & ~blank
        parsed = pd.to_datetime(values.where(~blank & ~zoned), errors="coerce", format="ISO8601")
        parsed = parsed.astype("datetime64[us]")
        return parsed, parsed.isna() & ~blank
    if field.kind == "bool":
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean"), pd.Series(False, index=values.index)
        text = values.astype("str").str.strip().str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[text.isin(TRUE_WORDS)] = True
        out[text.isin(FALSE_WORDS)] = False
        return out, out.isna() & ~blank
    numbers = pd.to_numeric(values.where(~blank), errors="coerce").astype("float64")
    bad = numbers.isna() & ~blank
    if field.kind == "int":
        whole, not_int = _integers(numbers.to_numpy())
        return pd.Series(whole, index=values.index), bad | not_int
    return numbers, bad


def _integers(numbers: np.ndarray) -> tuple[pd.arrays.IntegerArray, np.ndarray]:
    """Int64 values of float numbers; a fraction, an infinity or a number beyond int64 is
    unparseable (a bad value is a row's reason, not an OverflowError for the whole file)."""
    with np.errstate(invalid="ignore"):
        not_int = ~np.isnan(numbers) & ((np.floor(numbers) != numbers)
                                         | ~(np.abs(numbers) < 2.0**63))
    missing = np.isnan(numbers) | not_int
    whole = np.where(missing, 0.0, numbers).astype(np.int64)
    return pd.arrays.IntegerArray(whole, missing), not_int


def _arrow_text(values: pd.Series) -> pa.Array | None:
    """The column as one arrow string array, or None if it is not pyarrow-backed text."""
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return None
    arr = pa.array(values.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _np(mask: pa.Array, fill: bool) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, fill).to_numpy(zero_copy_only=False), dtype=bool)


def _split_others(text: pa.Array, plain: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows not in plain form: (blank ones, the others). Only these few are trimmed."""
    rows = np.flatnonzero(~plain)
    trimmed = pc.utf8_trim_whitespace(text.take(pa.array(rows)))
    blank = _np(pc.equal(trimmed, ""), True)
    return rows[blank], rows[~blank]


def _others_are_values(text: pa.Array, rows: np.ndarray, field: FieldDef) -> bool:
    """Whether any of the non-plain, non-blank cells `rows` parses to a value by parse_column."""
    if not len(rows):
        return False
    others = text.take(pa.array(rows)).to_pandas()
    parsed, _ = parse_column(others, field)
    return bool(parsed.notna().any())


def _layout(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end) byte offsets of every cell and the data bytes of a string array."""
    _, offset_buf, data_buf = text.buffers()
    width = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(offset_buf, dtype=width)[text.offset:text.offset + len(text) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets[:-1], offsets[1:], data


def _all_plain_numbers(text: pa.Array) -> pa.Array | None:
    """The column as doubles if every present cell is a plain number, else None.

    The usual clean column, checked on its bytes instead of with a regex per cell: only
    digits, '.' and '-'; arrow's parse then accepts at most a leading '-' and one '.', and a
    digit first (after the '-') and last leaves exactly PLAIN_NUMBER."""
    if len(text) == 0:
        return None
    starts, ends, data = _layout(text)
    body = data[starts[0]:ends[-1]]
    if not (((body >= 48) & (body <= 57)) | (body == 46) | (body == 45)).all():
        return None
    try:
        numbers = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        return None
    present = ~_np(text.is_null(), False)
    length = ends - starts
    present_rows = present & (length > 0)
    if not np.array_equal(present, present_rows) or (length[present] > PLAIN_NUMBER_CHARS).any():
        return None
    starts, ends = starts[present], ends[present]
    first = starts + (data[starts] == 45)
    last = data[ends - 1]
    if (first >= ends).any():
        return None
    first_byte = data[first]
    digit_ends = (first_byte >= 48) & (first_byte <= 57) & (last >= 48) & (last <= 57)
    return numbers if digit_ends.all() else None


def _plain_numbers(text: pa.Array, field: FieldDef) -> tuple[np.ndarray, np.ndarray] | None:
    numbers = _all_plain_numbers(text)
    bad = np.zeros(len(text), dtype=bool)
    if numbers is None:
        plain = pc.and_(pc.match_substring_regex(text, PLAIN_NUMBER),
                        pc.less_equal(pc.utf8_length(text), PLAIN_NUMBER_CHARS))
        _, others = _split_others(text, _np(plain, False))
        if _others_are_values(text, others, field):
            return None
        numbers = pc.cast(pc.if_else(plain, text, pa.scalar(None, text.type)), pa.float64())
        bad[others] = True
    return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64), bad


def _plain_date_parts(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Which cells match PLAIN_DATE, and their YYYYMMDD as one integer (0 elsewhere).

    Read from the bytes of the 10-byte cells as a (cells, 10) matrix: a regex and a cast
    per cell cost several times more."""
    starts, ends, data = _layout(text)
    present = ~_np(text.is_null(), False)
    rows = np.flatnonzero(present & (ends - starts == 10))
    chars = data[starts[rows][:, None] + np.arange(10)]
    digit = (chars >= 48) & (chars <= 57)
    ok = digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & (chars[:, 4] == 45) & (chars[:, 7] == 45)
    value = chars[:, [0, 1, 2, 3, 5, 6, 8, 9]].astype(np.int64) - 48
    ymd = value @ (10 ** np.arange(7, -1, -1, dtype=np.int64))
    plain = np.zeros(len(text), dtype=bool)
    plain[rows[ok]] = True
    out = np.zeros(len(text), dtype=np.int64)
    out[rows[ok]] = ymd[ok]
    return plain, out


def _plain_dates(text: pa.Array, field: FieldDef) -> tuple[np.ndarray, np.ndarray] | None:
    plain, ymd = _plain_date_parts(text)
    blank, others = _split_others(text, plain)
    if _others_are_values(text, others, field):
        return None
    # The calendar is checked here; numpy builds the day number from valid parts only.
    year, month, day = ymd // 10000, ymd // 100 % 100, ymd % 100
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    valid = plain & month_ok & (day >= 1) & (day <= last_day)
    months = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (np.clip(day, 1, 31) - 1)
    out = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[us]")
    out[valid] = dates[valid].astype("datetime64[us]")
    bad = ~valid
    bad[blank] = False
    return out, bad


def _bools(text: pa.Array) -> tuple[pd.arrays.BooleanArray, np.ndarray]:
    true = _np(pc.is_in(text, value_set=_TRUE_SET), False)
    false = _np(pc.is_in(text, value_set=_FALSE_SET), False)
    blank, others = _split_others(text, true | false)
    if len(others):  # " TRUE", "Yes": the same words after strip and lower
        lower = pc.utf8_lower(pc.utf8_trim_whitespace(text.take(pa.array(others))))
        true[others] = _np(pc.is_in(lower, value_set=_TRUE_SET), False)
        false[others] = _np(pc.is_in(lower, value_set=_FALSE_SET), False)
    unknown = ~(true | false)
    bad = unknown.copy()
    bad[blank] = False
    return pd.arrays.BooleanArray(true, unknown), bad


def _fast_column(values: pd.Series, field: FieldDef) -> tuple[pd.Series, np.ndarray] | None:
    """parse_column's result for a pyarrow-backed text column, or None to use parse_column."""
    text = _arrow_text(values)
    if text is None:
        return None
    index = values.index
    if field.kind in ("str", "category"):
        trimmed = pc.utf8_trim_whitespace(text)
        kept = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)
        typed = pd.Series(kept.to_pandas().array, index=index, dtype="str")
        return typed, np.zeros(len(values), dtype=bool)
    if field.kind == "bool":
        flags, bad = _bools(text)
        return pd.Series(flags, index=index), bad
    if field.kind == "date":
        parsed = _plain_dates(text, field)
        if parsed is None:
            return None
        dates, bad = parsed
        return pd.Series(dates, index=index), bad
    parsed_numbers = _plain_numbers(text, field)
    if parsed_numbers is None:
        return None
    numbers, bad = parsed_numbers
    if field.kind == "int":
        whole, not_int = _integers(numbers)
        return pd.Series(whole, index=index), bad | not_int
    return pd.Series(numbers, index=index), bad


def parse_frame(raw: pd.DataFrame, fields: tuple[FieldDef, ...], *, fast: bool = True
                ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Parse every contract column; returns (typed frame, per field the mask of unparseable cells).

    `fast=False` parses every column with `parse_column` (the reference the tests compare with).
    """
    typed: dict[str, pd.Series] = {}
    unparseable: dict[str, np.ndarray] = {}
    for field in fields:
        done = _fast_column(raw[field.name], field) if fast else None
        if done is None:
            values, bad = parse_column(raw[field.name], field)
            done = values, bad.to_numpy(dtype=bool)
        typed[field.name], unparseable[field.name] = done
    return pd.DataFrame(typed, index=raw.index), unparseable
