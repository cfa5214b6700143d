"""Which contributions are a prediction's top factors: one rule for /score and batch scoring.

The k largest |SHAP contributions| per row, largest first, ties in feature
order (a stable sort, so every caller lists them alike); a zero contribution
explains nothing and is left out, so a row's list may be shorter than k.
Vectorised over rows: batch scoring picks for 20,000 courses at once, where a
Python loop per row cost more than the SHAP values themselves.
"""

from __future__ import annotations

import numpy as np

TOP_FACTORS = 5


def top_factor_picks(contributions: np.ndarray, k: int = TOP_FACTORS
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the picked contributions of an (n, F) matrix, row by row in order."""
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(contributions.shape[0]), order.shape[1])
    cols = order.ravel()
    keep = contributions[rows, cols] != 0
    return rows[keep], cols[keep]
