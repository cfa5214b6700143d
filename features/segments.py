"""Per-course reductions over session rows, on plain numpy arrays.

The same reductions serve one course at request time (a dozen rows) and a
million courses in bulk, so they avoid pandas (groupby costs ~1 ms per call,
too much per request) and use bincount / ufunc.at, which are linear in rows.
For one course numpy's per-call cost is most of the time: helpers such as
np.r_, np.errstate and np.isneginf are avoided for that reason.
"""

from __future__ import annotations

import numpy as np


def count(course: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(course[mask], minlength=n).astype(np.float64)


def total(course: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Sum of present values; NaN for a course with none (unknown is not zero)."""
    keep = mask & ~np.isnan(values)
    sums = np.bincount(course[keep], weights=values[keep], minlength=n)
    return np.where(count(course, keep, n) > 0, sums, np.nan)


def mean(course: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    keep = mask & ~np.isnan(values)
    sums = np.bincount(course[keep], weights=values[keep], minlength=n)
    return ratio(sums, count(course, keep, n))


def maximum(course: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    keep = mask & ~np.isnan(values)
    out = np.full(n, -np.inf)
    np.maximum.at(out, course[keep], values[keep])
    out[out == -np.inf] = np.nan
    return out


def edge(course: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int, *, last: bool) -> np.ndarray:
    """First or last present value per course; rows must be sorted by course then time."""
    rows = np.flatnonzero(mask & ~np.isnan(values))
    out = np.full(n, np.nan)
    if rows.size == 0:
        return out
    seg = course[rows]
    pick = np.ones(rows.size, dtype=bool)  # each course's last (or first) row
    if last:
        np.not_equal(seg[1:], seg[:-1], out=pick[:-1])
    else:
        np.not_equal(seg[1:], seg[:-1], out=pick[1:])
    out[seg[pick]] = values[rows[pick]]
    return out


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator where the denominator is positive, else NaN (divided only
    there, so no warning needs silencing: errstate cost more than the division)."""
    out = np.full(np.shape(denominator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out
