"""Text or loosely typed columns -> typed columns, with a reason per bad cell.

CSV readers guess types; a single bad date would turn a whole column into
text. So every column is read as text and parsed here, field by field, and
an unparseable value becomes a per-row reason rather than a failed file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.fields import FieldDef

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "0.0"})


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


def parse_frame(raw: pd.DataFrame, fields: tuple[FieldDef, ...]) -> tuple[pd.DataFrame, pd.Series]:
    """Parse every contract column; returns (typed frame, reasons per row, '' when clean)."""
    typed = {}
    reasons = pd.Series("", index=raw.index, dtype="str")
    for field in fields:
        values, bad = parse_column(raw[field.name], field)
        typed[field.name] = values
        reasons = reasons.mask(bad, reasons + f"{field.name}: unparseable {field.kind}; ")
    return pd.DataFrame(typed, index=raw.index), reasons
