"""Arrays -> typed DataFrames in the exact column order and dtypes of features/fields.py.

Raw frames hold dates as ISO text (a raw file can carry an unparseable
date, which a datetime column could not), integers as Int64, booleans as
nullable boolean and text as str; NaN / negative day numbers become empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from features.fields import FieldDef
from synthetic.population import EPOCH

STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
PANDAS_DTYPES = {"str": STR_DTYPE, "category": STR_DTYPE, "date": STR_DTYPE,
                 "int": "Int64", "float": "float64", "bool": "boolean"}


def text(values: pa.Array) -> pd.Series:
    return pd.Series(pd.array(values, dtype=STR_DTYPE))


def _string_array(rows: np.ndarray, lengths: np.ndarray, missing: np.ndarray) -> pa.Array:
    """Arrow strings straight from a (m, width) byte matrix: no Python objects at 10M rows."""
    m = len(lengths)
    lengths = np.where(missing, 0, lengths)
    offsets = np.zeros(m + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    if lengths.min(initial=0) == rows.shape[1] or not m:
        data = rows.ravel()
    else:
        data = rows[np.arange(rows.shape[1]) < lengths[:, None]]
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    return pa.Array.from_buffers(pa.string(), m, [validity, pa.py_buffer(offsets),
                                                  pa.py_buffer(np.ascontiguousarray(data))])


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Opaque identifiers such as C0001234, built as bytes."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (np.asarray(numbers, dtype=np.int64)[:, None] // powers) % 10 + ord("0")
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    rows = np.hstack([np.broadcast_to(head, (len(digits), len(head))), digits.astype(np.uint8)])
    return _string_array(rows, np.full(len(rows), rows.shape[1]), np.zeros(len(rows), bool))


def take_text(labels: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """labels[codes] as str; NaN or negative codes give empty values."""
    codes = np.asarray(codes, dtype=float)
    missing = np.isnan(codes) | (codes < 0)
    index = np.where(missing, 0, codes).astype(np.int64)
    encoded = [label.encode() for label in labels]
    table = np.zeros((len(encoded), max(map(len, encoded))), dtype=np.uint8)
    for i, e in enumerate(encoded):
        table[i, :len(e)] = np.frombuffer(e, dtype=np.uint8)
    lengths = np.array([len(e) for e in encoded])[index]
    return text(_string_array(table[index], lengths, missing))


def iso_dates(days: np.ndarray) -> pd.Series:
    """Day numbers since 1970 -> 'YYYY-MM-DD'; negative -> empty. Few distinct days: map them."""
    days = np.asarray(days, dtype=np.int64)
    unique, inverse = np.unique(days, return_inverse=True)
    labels = (EPOCH + unique.clip(0)).astype("datetime64[D]").astype(str).tolist()
    return take_text(tuple(labels), np.where(days < 0, -1, inverse))


def int_column(values: np.ndarray) -> pd.Series:
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    return pd.Series(pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64),
                                            missing))


def bool_column(values: np.ndarray) -> pd.Series:
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    return pd.Series(pd.arrays.BooleanArray(np.where(missing, 0, values) > 0.5, missing))


def frame(columns: dict[str, pd.Series | np.ndarray], fields: tuple[FieldDef, ...]) -> pd.DataFrame:
    """Assemble the contract columns in order, coercing plain arrays by field kind."""
    out = {}
    for f in fields:
        col = columns[f.name]
        if isinstance(col, pd.Series):
            out[f.name] = col.reset_index(drop=True)
        elif f.kind == "int":
            out[f.name] = int_column(col)
        elif f.kind == "bool":
            out[f.name] = bool_column(col)
        else:
            out[f.name] = pd.Series(np.asarray(col, dtype=float))
    df = pd.DataFrame(out)
    for f in fields:  # fail loudly here rather than write a file off-contract
        if str(df[f.name].dtype) != str(PANDAS_DTYPES[f.kind]):
            raise TypeError(f"{f.name}: dtype {df[f.name].dtype}, expected {PANDAS_DTYPES[f.kind]}")
    return df
