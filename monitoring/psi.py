"""Population stability index between a reference sample and a current one.

Bins are the reference's deciles (distinct edges only, so binary features get
two bins); missing values form their own bin, because a rise in missingness
is drift too. Empty bins get a small floor so the log stays finite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANDS = (0.1, 0.25)  # < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 major shift
FLOOR = 1e-4


@dataclass(frozen=True)
class PsiResult:
    psi: float
    band: str
    n_reference: int
    n_current: int


def band_of(value: float) -> str:
    return "stable" if value < BANDS[0] else "moderate" if value < BANDS[1] else "major"


def bin_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner cut points from the reference's quantiles (NaN ignored)."""
    finite = reference[~np.isnan(reference)]
    if finite.size == 0:
        return np.array([])
    qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin: len(edges)+1 value bins, then the missing bin."""
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"),
                         minlength=len(edges) + 1)
    counts = np.append(counts, missing.sum()).astype(np.float64)
    return counts / max(1, values.size)


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> PsiResult:
    edges = bin_edges(reference, bins)
    ref = np.maximum(shares(reference, edges), FLOOR)
    cur = np.maximum(shares(current, edges), FLOOR)
    value = float(np.sum((cur - ref) * np.log(cur / ref)))
    return PsiResult(value, band_of(value), int(reference.size), int(current.size))
