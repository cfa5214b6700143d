"""The served calibration interval: a confidence interval for the calibration curve."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.calibration import logit, sigmoid
from riskmodel.calibration_interval import CalibrationInterval


def _cohort(n: int, seed: int, slope: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Served p and outcomes whose true rate is sigmoid(slope * logit(p)); two courses a
    patient, so the patient bootstrap has clusters to resample."""
    rng = np.random.default_rng(seed)
    p = sigmoid(rng.normal(0, 1.2, n))
    y = rng.random(n) < sigmoid(slope * logit(p))
    return p, y.astype(float), np.arange(n) // 2


@pytest.mark.parametrize("seed", [1, 2])
def test_covers_a_calibrated_model_and_is_as_wide_as_its_data_allow(seed):
    p, y, patients = _cohort(3000, seed, slope=1.0)
    w = np.ones_like(p)
    w[::7] = 0.0  # censored: weight 0, not used
    ci = CalibrationInterval.fit(p, y, w, patients, seed=seed)
    assert ci.n_courses == int((w > 0).sum()) and ci.level == 0.95
    grid = np.linspace(0.15, 0.85, 15)
    low, high = ci.bounds(grid)
    # The identity is the true curve: a 95 % interval misses it at few of these points.
    assert np.mean((low <= grid) & (grid <= high)) >= 0.8
    width = float(np.mean(high - low))
    assert 0.02 < width < 0.15  # ~2 x 1.96 x SE of a rate from ~2,600 courses, smoothed


def test_excludes_the_served_probability_where_the_model_is_miscalibrated():
    p, y, patients = _cohort(3000, 3, slope=2.0)  # overconfident calibration the other way
    ci = CalibrationInterval.fit(p, y, np.ones_like(p), patients, seed=3)
    low, high = ci.bounds(np.array([0.2, 0.8]))
    assert high[0] < 0.2 and low[1] > 0.8  # true rates there are 0.06 and 0.94


def test_weights_count_courses():
    """Doubling each course's weight is the same data as listing it twice (IPCW weights
    stand for the censored courses like them)."""
    p, y, patients = _cohort(1500, 4, slope=1.0)
    a = CalibrationInterval.fit(p, y, np.full_like(p, 2.0), patients, seed=4, bootstraps=30)
    b = CalibrationInterval.fit(p, y, np.ones_like(p), patients, seed=4, bootstraps=30)
    np.testing.assert_allclose(a.low, b.low, atol=1e-3)


def test_round_trips_and_clamps_outside_the_grid(tmp_path):
    p, y, patients = _cohort(1000, 5, slope=1.0)
    ci = CalibrationInterval.fit(p, y, np.ones_like(p), patients, seed=5, bootstraps=20)
    (tmp_path / "calibration_interval.json").write_text(ci.to_json())
    back = CalibrationInterval.load(tmp_path)
    np.testing.assert_array_equal(back.low, ci.low)
    assert back.n_courses == 1000
    lo, hi = back.bounds(np.array([0.0, 1.0]))
    assert lo[0] == ci.low[0] and hi[1] == ci.high[-1]


def test_newton_fits_equal_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import SplineTransformer

    from riskmodel.calibration_interval import weighted_logistic

    p, y, _ = _cohort(2000, 6, slope=1.3)
    X = SplineTransformer(n_knots=4, degree=3).fit_transform(logit(p).reshape(-1, 1))
    W = np.random.default_rng(6).poisson(1.0, (3, len(p))).astype(float)
    ours = weighted_logistic(X, y, W)
    for r in range(3):
        ref = LogisticRegression(C=np.inf, fit_intercept=False, max_iter=5000, tol=1e-10)
        ref.fit(X, y, sample_weight=W[r])
        np.testing.assert_allclose(sigmoid(X @ ours[r]), ref.predict_proba(X)[:, 1], atol=1e-5)


@pytest.mark.slow
def test_intervals_cover_the_truth_at_their_level():
    """Pooled over 20 replicate cohorts (seeds 4001-4020), the calibration interval and the
    band intervals: training/validation/interval_coverage.py."""
    from training.validation.interval_coverage import MIN_COVERAGE, coverage

    r = coverage(20)
    assert r["coverage"] >= MIN_COVERAGE, r["by_decile"]
    assert r["bands"]["coverage"] >= MIN_COVERAGE, r["bands"]
