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
        parsed = pd.to_datetime(values.where(~blank), errors="coerce", format="ISO8601")
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
        fractional = numbers.notna() & (np.floor(numbers) != numbers)
        bad |= fractional
        numbers = numbers.where(~fractional)
        return numbers.astype("Int64"), bad
    return numbers, bad


def _arrow_text(values: pd.Series) -> pa.Array | None:
    """The column as one arrow string array, or None if it is not pyarrow-backed text."""
    if not isinstance(values.array, pd.arrays.ArrowStringArray):
        return None
    arr = pa.array(values.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _np(mask: pa.Array, fill: bool) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, fill).to_numpy(zero_copy_only=False), dtype=bool)


def _others_are_values(text: pa.Array, rows: np.ndarray, field: FieldDef) -> bool:
    """Whether any of the non-plain cells `rows` parses to a value by parse_column's rules."""
    if not len(rows):
        return False
    others = text.take(pa.array(rows)).to_pandas()
    parsed, _ = parse_column(others, field)
    return bool(parsed.notna().any())


def _plain_numbers(text: pa.Array, blank: np.ndarray, field: FieldDef
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    plain = pc.and_(pc.match_substring_regex(text, PLAIN_NUMBER),
                    pc.less_equal(pc.utf8_length(text), PLAIN_NUMBER_CHARS))
    plain_np = _np(plain, False)
    other = ~plain_np & ~blank
    if _others_are_values(text, np.flatnonzero(other), field):
        return None
    numbers = pc.cast(pc.if_else(plain, text, pa.scalar(None, text.type)), pa.float64())
    return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64), other


def _plain_dates(text: pa.Array, blank: np.ndarray, field: FieldDef
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    plain = _np(pc.match_substring_regex(text, PLAIN_DATE), False)
    other = ~plain & ~blank
    if _others_are_values(text, np.flatnonzero(other), field):
        return None
    n = len(plain)
    digits = pc.if_else(pa.array(plain), text, pa.scalar("1970-01-01", text.type))
    year, month, day = (
        np.asarray(pc.cast(pc.utf8_slice_codeunits(digits, a, b), pa.int64())
                   .to_numpy(zero_copy_only=False), dtype=np.int64)
        for a, b in ((0, 4), (5, 7), (8, 10)))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    valid = plain & month_ok & (day >= 1) & (day <= last_day)
    # The calendar is checked above; numpy builds the day number from valid parts only.
    months = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (np.clip(day, 1, 31) - 1)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    out[valid] = dates[valid].astype("datetime64[us]")
    return out, ~valid & ~blank


def _fast_column(values: pd.Series, field: FieldDef) -> tuple[pd.Series, np.ndarray] | None:
    """parse_column's result for a pyarrow-backed text column, or None to use parse_column."""
    text = _arrow_text(values)
    if text is None:
        return None
    index = values.index
    trimmed = pc.utf8_trim_whitespace(text)
    blank = _np(pc.equal(trimmed, ""), True)
    if field.kind in ("str", "category"):
        kept = pc.if_else(pa.array(blank), pa.scalar(None, trimmed.type), trimmed)
        typed = pd.Series(kept.to_pandas().array, index=index, dtype="str")
        return typed, np.zeros(len(values), dtype=bool)
    if field.kind == "bool":
        lower = pc.utf8_lower(trimmed)
        true = _np(pc.is_in(lower, value_set=_TRUE_SET), False)
        false = _np(pc.is_in(lower, value_set=_FALSE_SET), False)
        unknown = ~(true | false)
        return pd.Series(pd.arrays.BooleanArray(true, unknown), index=index), unknown & ~blank
    if field.kind == "date":
        parsed = _plain_dates(text, blank, field)
        if parsed is None:
            return None
        dates, bad = parsed
        return pd.Series(dates, index=index), bad
    parsed_numbers = _plain_numbers(text, blank, field)
    if parsed_numbers is None:
        return None
    numbers, bad = parsed_numbers
    if field.kind == "int":
        with np.errstate(invalid="ignore"):
            fractional = ~np.isnan(numbers) & (np.floor(numbers) != numbers)
        bad = bad | fractional
        missing = np.isnan(numbers) | fractional
        whole = np.where(missing, 0.0, numbers).astype(np.int64)
        return pd.Series(pd.arrays.IntegerArray(whole, missing), index=index), bad
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
