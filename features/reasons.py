"""Per-row quarantine reasons kept as masks; text is built only for the bad rows.

Appending a reason to a string column of every row (88k session rows, a dozen
rules) cost more than the checks themselves. Here each rule adds a mask and
its words; a row's reason is the rule words in the order they were added,
each followed by "; ", exactly as the string-column version produced them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

Selector = np.ndarray  # a boolean mask over all rows, or integer row positions


class RowReasons:
    """The reasons of `n` rows, in the order the rules were applied."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.bad = np.zeros(n, dtype=bool)
        self._parts: list[tuple[np.ndarray, str]] = []

    def add(self, rows: Selector, reason: str) -> None:
        """Append `reason` to the rows selected (a mask of length n, or positions)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (self.n,):
                raise ValueError("reason mask does not match the rows")
            rows = np.flatnonzero(rows)
        if len(rows):
            self._parts.append((rows.astype(np.int64, copy=False), reason + "; "))
            self.bad[rows] = True

    @property
    def ok(self) -> np.ndarray:
        return ~self.bad

    def text(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Object array of the reason strings of `rows` (positions; all rows if None), '' if clean."""
        rows = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        out = np.full(len(rows), "", dtype=object)
        if not len(rows):
            return out
        where = np.full(self.n, -1, dtype=np.int64)
        where[rows] = np.arange(len(rows))
        for part_rows, reason in self._parts:
            at = where[part_rows]
            at = at[at >= 0]
            out[at] = out[at] + reason
        return out

    def series(self, index: pd.Index) -> pd.Series:
        """The reasons of every row as a str Series ('' when clean), for callers that want one."""
        return pd.Series(self.text(), index=index, dtype="str")
