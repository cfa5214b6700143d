"""pandera schemas for the three record files, generated from `features.fields`.

They check typed frames (after `features.parsing` has turned text into
values), so a failure here is a value outside the contract, not a typo.
"""

from __future__ import annotations

from functools import cache

import pandera.pandas as pa

from features.fields import RECORD_FIELDS, FieldDef

PANDAS_DTYPES = {
    "str": "str",
    "category": "str",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[us]",
}


def _column(field: FieldDef) -> pa.Column:
    checks = []
    if field.ge is not None or field.le is not None:
        lo = field.ge if field.ge is not None else float("-inf")
        hi = field.le if field.le is not None else float("inf")
        checks.append(pa.Check.in_range(lo, hi))
    if field.codes:
        checks.append(pa.Check.isin(list(field.codes)))
    return pa.Column(
        PANDAS_DTYPES[field.kind],
        checks=checks,
        nullable=not field.required,
        required=True,
        description=field.doc,
        title=field.name,
    )


@cache
def record_schema(record: str) -> pa.DataFrameSchema:
    """The schema of one record file ('intake', 'sessions' or 'outcomes')."""
    fields = RECORD_FIELDS[record]
    return pa.DataFrameSchema(
        {f.name: _column(f) for f in fields},
        name=record,
        strict="filter",  # extra columns are dropped, never passed on
        coerce=False,
    )
