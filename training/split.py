"""Patient-grouped train / validation / test split: no patient in two parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions
    valid: np.ndarray
    test: np.ndarray


def patient_split(patient_ids: np.ndarray, *, seed: int, valid: float = 0.2,
                  test: float = 0.2) -> Split:
    """Split rows so that all courses of a patient fall in one part."""
    rows = np.arange(len(patient_ids))
    outer = GroupShuffleSplit(n_splits=1, test_size=test, random_state=seed)
    rest, test_rows = next(outer.split(rows, groups=patient_ids))
    inner = GroupShuffleSplit(n_splits=1, test_size=valid / (1 - test), random_state=seed + 1)
    tr, va = next(inner.split(rest, groups=patient_ids[rest]))
    return Split(np.sort(rest[tr]), np.sort(rest[va]), np.sort(test_rows))
