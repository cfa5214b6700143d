"""Promotion gates: each refusal, escalation and "not assessable" listing, on data built by hand.

Given a cohort whose true probabilities are known, when a candidate is made worse in one
way, then the gate for that way refuses (or escalates) and names what it found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from riskmodel.calibration import logit, sigmoid
from training.gates import Comparator, evaluate
from training.gates import draws as d
from training.gates.spec import MIN_ASSESSABLE_LABELLED
from training.metrics import expected_calibration_error
from training.validation.metrics import logistic_recalibration


def _cohort(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    true_p = rng.beta(2.2, 1.8, n)
    y = (rng.random(n) < true_p).astype(float)
    groups = rng.integers(0, int(n * 0.7), n)  # some patients have several courses
    attributes = pd.DataFrame({
        "sex": rng.choice(["female", "male"], n),
        "age_band": rng.choice(["18-29", "30-44", "45-59"], n),
        "race_ethnicity": rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1]),
        "site": rng.choice(["S01", "S02", "S03", "S04", "S05", "S06"], n),
    })
    return true_p, y, np.ones(n), groups, attributes


@pytest.fixture(scope="module")
def cohort():
    return _cohort(8000)


def _run(cohort, p, comparators=(), attributes=None):
    true_p, y, w, groups, attrs = cohort
    return evaluate(y, w, groups, p, attrs if attributes is None else attributes,
                    list(comparators), seed=1, n_boot=150)


def _status(report) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.detail) for r in report.results}


def test_draw_metrics_equal_the_reference_implementations():
    rng = np.random.default_rng(2)
    p = np.round(rng.beta(2, 2, 3000), 2)  # ties
    y = (rng.random(3000) < p).astype(float)
    w = rng.uniform(0.5, 2.0, 3000)
    assert d.auroc(w, y, p)[0] == pytest.approx(roc_auc_score(y, p, sample_weight=w))
    assert d.ece(w, y, p)[0] == pytest.approx(expected_calibration_error(y, p, w))
    assert d.slope(w, y, p)[0] == pytest.approx(logistic_recalibration(y, p, w)[0], abs=1e-6)
    assert d.citl(w, y, p)[0] == pytest.approx(np.average(p - y, weights=w))


def test_a_calibrated_discriminating_model_is_promoted(cohort):
    true_p = cohort[0]
    noisy = sigmoid(logit(true_p) + np.random.default_rng(9).normal(0, 0.6, len(true_p)))
    report = _run(cohort, true_p, [Comparator("logistic", "logistic regression", noisy),
                                   Comparator("champion", "champion v1", true_p),
                                   Comparator("reference", "reference v1", true_p)])
    assert report.decision == "promote", report.table()
    assert "0.000 (95% CI 0.000 to 0.000)" in _status(report)["vs_champion"][1]


def test_auroc_floor_reads_the_lower_bound_not_the_point():
    rng = np.random.default_rng(3)
    n = 260
    y = (rng.random(n) < 0.5).astype(float)
    p = np.clip(0.5 + 0.10 * (y - 0.5) + rng.normal(0, 0.16, n), 0.01, 0.99)
    report = evaluate(y, np.ones(n), np.arange(n), p, pd.DataFrame({"sex": ["x"] * n}), [],
                      seed=1, n_boot=150)
    auroc = report.metrics["auroc"]
    assert auroc["estimate"] >= 0.65 > auroc["low"]  # a point rule would have promoted it
    assert _status(report)["auroc_floor"][0] == "refuse"


def test_worse_than_the_champion_is_refused(cohort):
    true_p = cohort[0]
    worse = sigmoid(logit(true_p) + np.random.default_rng(5).normal(0, 1.2, len(true_p)))
    status = _status(_run(cohort, worse, [Comparator("champion", "champion v1", true_p)]))
    assert status["vs_champion"][0] == "refuse"
    assert "AUROC lower bound" in status["vs_champion"][1]


def test_below_logistic_regression_is_refused(cohort):
    true_p = cohort[0]
    worse = sigmoid(logit(true_p) + np.random.default_rng(6).normal(0, 1.2, len(true_p)))
    status = _status(_run(cohort, worse, [Comparator("logistic", "logistic regression", true_p)]))
    assert status["vs_logistic"][0] == "refuse"


def test_worse_calibration_than_the_reference_escalates(cohort):
    # Same ranking, overall calibration off by +0.05: AUROC is not worse, |CITL| is.
    true_p = cohort[0]
    shifted = np.clip(true_p + 0.05, 0.001, 0.999)
    report = _run(cohort, shifted, [Comparator("reference", "reference v1", true_p)])
    status = _status(report)
    assert status["vs_reference"][0] == "escalate", status["vs_reference"]
    assert "|CITL| upper bound" in status["vs_reference"][1]
    assert report.decision in ("escalate", "refuse")


def test_a_reference_that_cannot_be_scored_refuses_with_the_reason(cohort):
    report = _run(cohort, cohort[0], [Comparator("reference", "reference v1", None,
                                                 "ArtifactError: feature spec changed")])
    status, detail = _status(report)["vs_reference"]
    assert status == "refuse" and "feature spec changed" in detail and "rebaseline" in detail
    assert report.decision == "refuse"


def test_a_broken_calibrator_is_refused(cohort):
    broken = sigmoid(0.5 * logit(cohort[0]))
    status = _status(_run(cohort, broken))
    assert status["calibration_slope"][0] == "refuse"


def test_a_miscalibrated_site_is_refused_and_named_alone(cohort):
    true_p, _, _, _, attributes = cohort
    site = attributes["site"].eq("S02").to_numpy()
    p = np.where(site, np.clip(true_p + 0.15, 0.01, 0.99), true_p)
    status, detail = _status(_run(cohort, p))["subgroups"]
    assert status == "refuse"
    assert "site S02" in detail and "calibration_in_the_large" in detail
    # Compared with the rest (one sixth of which is shifted), the other sites stay in.
    assert "S01" not in detail and "S03" not in detail


def test_a_small_group_is_listed_not_assessable_and_does_not_block(cohort):
    true_p, y, w, groups, attributes = cohort
    attributes = attributes.copy()
    tiny = np.flatnonzero(attributes["race_ethnicity"].eq("C").to_numpy())[:60]
    attributes.loc[tiny, "race_ethnicity"] = "D"
    p = true_p.copy()
    p[tiny] = np.clip(p[tiny] - 0.3, 0.01, 0.99)  # badly miscalibrated, but only 60 courses
    report = _run(cohort, p, attributes=attributes)
    assert report.decision == "promote", report.table()
    assert any(s.startswith("race_ethnicity D (60 labelled)") for s in report.not_assessable)
    assert "not assessable" in _status(report)["subgroups"][1]
    assert MIN_ASSESSABLE_LABELLED > 60


def test_simultaneous_intervals_are_wider_than_one_at_a_time(cohort):
    report = _run(cohort, cohort[0])
    assert report.critical_value > 2.3  # max-T over ~22 group-metric pairs, not 1.96
