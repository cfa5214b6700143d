"""Monitoring: PSI bands, outcomes joined to served predictions, the report's sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.spec import FEATURE_NAMES
from monitoring.analysis import calibration, drift_table, predictions_over_time
from monitoring.psi import band_of, psi
from monitoring.report import ReportInputs, render_report
from monitoring.served import Served

F = len(FEATURE_NAMES)


def served(X: np.ndarray, p: np.ndarray, outcomes: dict[str, str]) -> Served:
    n = len(p)
    frame = pd.DataFrame({
        "ts": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
        "model_version": "3", "probability": p,
        "risk_band": np.where(p >= 0.7, "high", np.where(p >= 0.4, "moderate", "low")),
        "course_ref": [f"k.{i:064x}" for i in range(n)]})
    out = pd.DataFrame({"outcome": outcomes}, dtype=object)
    out.index.name = "course_ref"
    return Served(frame, X, out)


def test_psi_is_small_for_the_same_population_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(50, 10, 20_000)
    assert psi(ref, rng.normal(50, 10, 5_000)).psi < 0.02
    moderate = psi(ref, rng.normal(53.5, 10, 5_000))
    assert 0.1 <= moderate.psi < 0.25 and moderate.band == "moderate"
    assert psi(ref, rng.normal(60, 10, 5_000)).band == "major"


def test_missing_values_count_as_drift_and_binary_features_work():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 10_000)
    cur = ref[:5_000].copy()
    cur[:2_000] = np.nan  # 40% suddenly missing
    assert psi(ref, cur).band == "major"
    flags = rng.binomial(1, 0.3, 10_000).astype(float)
    assert psi(flags, rng.binomial(1, 0.3, 5_000).astype(float)).band == "stable"
    assert psi(flags, rng.binomial(1, 0.7, 5_000).astype(float)).band == "major"


@pytest.mark.parametrize(("value", "band"), [(0.0, "stable"), (0.099, "stable"),
                                             (0.1, "moderate"), (0.25, "major")])
def test_bands(value, band):
    assert band_of(value) == band


def test_calibration_and_auroc_use_the_newest_known_outcome_only():
    rng = np.random.default_rng(2)
    n = 4_000
    p = rng.uniform(0.05, 0.95, n)
    y = rng.uniform(size=n) < p  # perfectly calibrated truth
    outcomes = {f"k.{i:064x}": ("relapsed" if y[i] else "no_relapse") for i in range(n - 500)}
    outcomes.update({f"k.{i:064x}": "censored" for i in range(n - 500, n)})
    cal = calibration(served(np.zeros((n, F)), p, outcomes))
    assert cal.n_labelled == n - 500
    assert abs(cal.observed_rate - cal.mean_predicted) < 0.03
    assert 0.70 < cal.auroc < 0.80  # expected AUROC of uniform p with y ~ Bernoulli(p) is 0.75
    assert (abs(cal.table["observed"] - cal.table["predicted"]) < 0.08).all()


def test_no_outcomes_means_no_auroc():
    cal = calibration(served(np.zeros((3, F)), np.array([0.2, 0.5, 0.8]), {}))
    assert cal.n_labelled == 0 and cal.auroc is None


def test_report_has_drift_timeline_and_outcome_sections():
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1, (3_000, F))
    cur = rng.normal(0, 1, (300, F))
    cur[:, 0] += 2  # the first feature drifts
    p = rng.uniform(0, 1, 300)
    s = served(cur, p, {f"k.{i:064x}": "relapsed" if p[i] > 0.5 else "no_relapse"
                        for i in range(300)})
    drift = drift_table(ref, s)
    assert drift.iloc[0]["feature"] == FEATURE_NAMES[0] and drift.iloc[0]["band"] == "major"
    assert len(predictions_over_time(s)) == 13  # 300 hourly predictions span 13 days
    html = render_report(ReportInputs(ref, "test reference", s, "all time", ["a warning"]))
    for marker in ('id="psi-table"', 'id="timeline-plot"', 'id="reliability-plot"',
                   "AUROC 1.000", "a warning", "data:image/png;base64,"):
        assert marker in html
