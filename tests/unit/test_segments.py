"""The per-course reductions (features/segments.py) against pandas' groupby on the same rows:
missing values, courses with no rows, and masks that leave a course empty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import segments as seg

N = 40  # courses; some get no rows at all


@pytest.fixture(params=range(5))
def rows(request) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(request.param)
    course = np.sort(rng.integers(0, N, size=300))  # sorted by course, as the builder sorts
    values = rng.normal(size=course.size)
    values[rng.random(course.size) < 0.25] = np.nan
    mask = rng.random(course.size) < 0.6
    return course, values, mask


def _kept(course: np.ndarray, values: np.ndarray, mask: np.ndarray) -> pd.Series:
    keep = mask & ~np.isnan(values)
    return pd.Series(values[keep]).groupby(course[keep])


def test_reductions_match_pandas(rows) -> None:
    course, values, mask = rows
    g = _kept(course, values, mask)
    every = pd.RangeIndex(N)
    np.testing.assert_array_equal(seg.count(course, mask, N),
                                  pd.Series(course[mask]).value_counts().reindex(every,
                                                                                 fill_value=0))
    np.testing.assert_allclose(seg.total(course, values, mask, N), g.sum().reindex(every))
    np.testing.assert_allclose(seg.mean(course, values, mask, N), g.mean().reindex(every))
    np.testing.assert_array_equal(seg.maximum(course, values, mask, N), g.max().reindex(every))
    np.testing.assert_array_equal(seg.edge(course, values, mask, N, last=True),
                                  g.last().reindex(every))
    np.testing.assert_array_equal(seg.edge(course, values, mask, N, last=False),
                                  g.first().reindex(every))


def test_ratio_is_nan_unless_the_denominator_is_positive() -> None:
    num = np.array([1.0, 2.0, np.nan, 3.0, 0.0, 5.0])
    den = np.array([2.0, 0.0, 4.0, np.nan, 3.0, -1.0])
    np.testing.assert_array_equal(seg.ratio(num, den), [0.5, np.nan, np.nan, np.nan, 0.0, np.nan])
    with np.errstate(all="raise"):  # nothing to silence: no division where it would warn
        seg.ratio(num, den)


def test_a_course_of_one_row_is_its_own_first_and_last() -> None:
    course, values = np.array([0, 2, 2]), np.array([7.0, 1.0, 2.0])
    every = np.ones(3, dtype=bool)
    np.testing.assert_array_equal(seg.edge(course, values, every, 3, last=True), [7.0, np.nan, 2.0])
    np.testing.assert_array_equal(seg.edge(course, values, every, 3, last=False), [7.0, np.nan, 1.0])
    assert np.isnan(seg.edge(course, values, ~every, 3, last=True)).all()
