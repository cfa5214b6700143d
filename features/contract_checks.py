"""The per-value contract checks as array masks, generated from `features.fields`.

The same rules `features.schemas` gives pandera (required -> not nullable,
ge/le -> in_range, codes -> isin, kind -> dtype), evaluated on a typed frame
in a few vectorised passes. Validation uses them to find the rows that fail;
pandera then runs on those rows only and writes their reasons, so a clean
chunk never pays for pandera and a dirty one pays for its bad rows only
(or, with `validate_records(..., confirm=False)`, the masks write the same
reasons and pandera is not run). tests/unit/test_fast_validation.py checks
masks and pandera agree on generated frames with bad values of every kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from pandera.engines import pandas_engine

from features.fields import RECORD_FIELDS, FieldDef
from features.schemas import record_schema

# pandera check name -> the words a quarantine reason uses (never the value).
CHECK_WORDS = {
    "not_nullable": "required value missing",
    "in_range": "outside the allowed range",
    "isin": "not one of the allowed codes",
    "dtype": "wrong type",
    "field_uniqueness": "duplicate",
}


@dataclass(frozen=True)
class Failure:
    """The rows (boolean mask) of one column failing one check."""

    column: str
    check: str  # pandera's check name
    rows: np.ndarray

    @property
    def reason(self) -> str:
        return f"{self.column}: {CHECK_WORDS[self.check]}"


def field_checks(field: FieldDef) -> tuple[str, ...]:
    """The checks of one field, in the order pandera runs and reports them."""
    checks: tuple[str, ...] = () if not field.required else ("not_nullable",)
    if field.ge is not None or field.le is not None:
        checks += ("in_range",)
    if field.codes:
        checks += ("isin",)
    return checks


@cache
def masks_cover_schema(record: str) -> bool:
    """Whether these masks are every check the pandera schema makes (else: pandera on all rows)."""
    schema = record_schema(record)
    if schema.checks or schema.unique or list(schema.columns) != [
            f.name for f in RECORD_FIELDS[record]]:
        return False
    for field in RECORD_FIELDS[record]:
        column = schema.columns[field.name]
        made = (() if column.nullable else ("not_nullable",)) + tuple(c.name for c in column.checks)
        if column.unique or made != field_checks(field):
            return False
    return True


def dtypes_match(typed: pd.DataFrame, record: str) -> bool:
    """pandera's dtype check, per column, without a pass over the values."""
    schema = record_schema(record)
    return all(schema.columns[name].dtype.check(pandas_engine.Engine.dtype(typed[name].dtype))
               for name in schema.columns)


def _out_of_range(values: pd.Series, field: FieldDef) -> np.ndarray:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    lo = field.ge if field.ge is not None else -np.inf
    hi = field.le if field.le is not None else np.inf
    with np.errstate(invalid="ignore"):
        return (numbers < lo) | (numbers > hi)  # NaN compares False: a missing value is in range


def _not_a_code(values: pd.Series, field: FieldDef) -> np.ndarray:
    return (values.notna() & ~values.isin(list(field.codes or ()))).to_numpy(dtype=bool)


def contract_failures(typed: pd.DataFrame, record: str) -> list[Failure]:
    """Every (column, check) that fails on some row, in pandera's reporting order."""
    failures = []
    for field in RECORD_FIELDS[record]:
        values = typed[field.name]
        for check in field_checks(field):
            if check == "not_nullable":
                rows = values.isna().to_numpy(dtype=bool)
            elif check == "in_range":
                rows = _out_of_range(values, field)
            else:
                rows = _not_a_code(values, field)
            if rows.any():
                failures.append(Failure(field.name, check, rows))
    return failures


def mask_reasons(typed: pd.DataFrame, record: str,
                 unparseable: dict[str, np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """The reasons pandera's failures give (validation._schema_reasons), from the masks."""
    found = []
    for failure in contract_failures(typed, record):
        rows = failure.rows
        if failure.check == "not_nullable" and failure.column in unparseable:
            rows = rows & ~unparseable[failure.column]  # an unparseable value is reported once
        found.append((rows, failure.reason))
    return found


def failing_rows(typed: pd.DataFrame, record: str) -> np.ndarray | None:
    """Positions of the rows some check fails; None when only pandera on every row can tell."""
    if not masks_cover_schema(record) or not dtypes_match(typed, record):
        return None
    bad = np.zeros(len(typed), dtype=bool)
    for failure in contract_failures(typed, record):
        bad |= failure.rows
    return np.flatnonzero(bad)
