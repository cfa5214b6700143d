"""Which contributions are a prediction's top factors: one rule for /score and batch scoring.

The k largest |SHAP contributions| per row, largest first, ties in feature
order (a stable sort, so every caller lists them alike); a zero contribution
explains nothing and is left out, so a row's list may be shorter than k.
Vectorised over rows: batch scoring picks for 20,000 courses at once and a
100-course /score for its 100 at once, where a Python loop per row cost more
than the SHAP values themselves. `TopFactors` holds the picks column-wise;
each caller only formats them (arrow for batch files, JSON objects for /score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.spec import COURSE_EXPOSURES, FEATURE_NAMES

TOP_FACTORS = 5
# Per feature column: whether it is a treatment the course delivered (never advice).
EXPOSURE_COLUMNS = np.array([name in COURSE_EXPOSURES for name in FEATURE_NAMES])


@dataclass(frozen=True)
class TopFactors:
    """Every row's top factors, column-wise: entry e is row `rows[e]`'s factor, and row i's
    factors are entries offsets[i]:offsets[i + 1], largest first."""

    rows: np.ndarray  # (m,) int
    columns: np.ndarray  # (m,) feature column index
    values: np.ndarray  # (m,) the course's value, NaN when missing
    shap: np.ndarray  # (m,) contribution to the calibrated log-odds
    offsets: np.ndarray  # (n + 1,) int

    @property
    def raises(self) -> np.ndarray:
        """Direction of each factor: True raises the risk, False lowers it (never zero)."""
        return self.shap > 0

    @property
    def course_exposure(self) -> np.ndarray:
        return EXPOSURE_COLUMNS[self.columns]


def top_factors_of(values: np.ndarray, contributions: np.ndarray, k: int = TOP_FACTORS
                   ) -> TopFactors:
    """The top factors of every row of an (n, F) feature matrix and its contributions."""
    n = contributions.shape[0]
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(n), order.shape[1])
    cols = order.ravel()
    keep = contributions[rows, cols] != 0
    rows, cols = rows[keep], cols[keep]
    return TopFactors(rows, cols, values[rows, cols], contributions[rows, cols],
                      row_offsets(rows, n))


def row_offsets(rows: np.ndarray, n: int) -> np.ndarray:
    """(n + 1,) start of each of n rows' entries in `rows`, which is sorted ascending."""
    return np.searchsorted(rows, np.arange(n + 1))
