"""The validation report on the shared 20,000-course cohort, and the monotone constraints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.spec import FEATURE_NAMES
from riskmodel.predictor import RiskModel
from training.monotone import MONOTONE

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def prepared(cohort_dir, trained):
    from tests.conftest import COHORT_SEED
    from training.prepare import prepare

    return prepare(cohort_dir, seed=COHORT_SEED, verbose=False)


@pytest.fixture(scope="module")
def quick_report(champion_dir, prepared, cohort_dir, tmp_path_factory):
    """Held-out test, subgroups, censoring, survival, intervals (the refit schemes are slow)."""
    from training.validation.report import Options, build_report

    out = tmp_path_factory.mktemp("validation")
    report = build_report(RiskModel.load(champion_dir), prepared, cohort_dir,
                          Options(n_boot=200, n_boot_schemes=100, schemes=False,
                                  ensemble_members=10), out_dir=out)
    return report, out


def test_monotone_directions_hold_for_every_row(champion_dir, prepared):
    model = RiskModel.load(champion_dir)
    assert model.calibrator.a > 0  # calibration keeps the margin's order
    X = prepared.X[:3000]
    for name, (direction, _) in MONOTONE.items():
        j = FEATURE_NAMES.index(name)
        col = X[:, j][~np.isnan(X[:, j])]
        grid = np.quantile(col, np.linspace(0, 1, 6))
        margins = []
        for v in grid:
            Xv = X.copy()
            Xv[:, j] = v
            margins.append(model.margin(Xv))
        steps = np.diff(np.array(margins), axis=0) * direction
        assert steps.min() >= -1e-6, name


def test_held_out_intervals_and_oracle_gap(quick_report):
    r, _ = quick_report
    held = r["held_out"]
    x = held["models"]["xgboost"]
    assert held["n_courses"] >= 3000
    assert x["auroc"]["low"] < x["auroc"]["estimate"] < x["auroc"]["high"]
    assert x["auroc"]["high"] - x["auroc"]["low"] < 0.06
    assert held["oracle_gap"]["high"] <= 0.05  # the whole interval within 0.05 of the oracle
    assert x["ece"]["estimate"] <= 0.05


def test_baselines_compared_and_rule_is_beaten(quick_report):
    held = quick_report[0]["held_out"]
    assert set(held["models"]) == {"xgboost", "logistic_regression", "clinical_rule"}
    assert held["vs_reference"]["clinical_rule"]["reference_better_auroc"]
    # Logistic regression is close on this cohort: the report states whichever way it falls.
    lr = held["vs_reference"]["logistic_regression"]
    assert lr["reference_better_auroc"] == (lr["auroc"]["low"] > 0)


def test_decision_curve_and_cut_points(quick_report):
    held = quick_report[0]["held_out"]
    cp = held["cut_points"]
    moderate, high = cp["cuts"]["moderate_from"], cp["cuts"]["high_from"]
    assert moderate["sensitivity"]["estimate"] > high["sensitivity"]["estimate"]
    assert high["ppv"]["estimate"] > moderate["ppv"]["estimate"]
    assert cp["useful_range"] is not None
    nb = np.array(held["decision_curve"]["models"]["xgboost"])
    assert nb.max() > 0


def test_subgroups_have_intervals_and_flags_follow_the_rule(quick_report):
    s = quick_report[0]["subgroups"]
    assert set(s["attributes"]) == {"sex", "age_band", "race_ethnicity", "site", "audit_band"}
    for block in s["attributes"].values():
        for e in block["groups"].values():
            if e["n_labelled"] >= 300:
                assert e["auroc"]["low"] <= e["auroc"]["estimate"] <= e["auroc"]["high"]
    for f in s["flags"]:
        assert f["gap"] > f["tolerance"]
    # Against the true risk (synthetic), large groups are calibrated within 0.05.
    for block in s["attributes"].values():
        for e in block["groups"].values():
            if e["n"] >= 1000:
                assert abs(e["bias_vs_true_probability"]) < 0.05, e


def test_censoring_variants_biases_point_the_documented_way(quick_report):
    c = quick_report[0]["censoring"]
    v = c["variants"]
    # Censored courses are mostly non-relapsers: complete case over-estimates the relapse
    # rate, missing-as-relapse more so; IPCW is closest to the truth.
    assert v["missing_as_relapse"]["rate_bias"] > v["complete_case"]["rate_bias"] > 0
    assert abs(v["ipcw"]["rate_bias"]) < v["complete_case"]["rate_bias"]
    assert v["missing_as_relapse"]["bias"] > v["ipcw"]["bias"]


def test_report_files(quick_report, tmp_path):
    from training.validation.summary import evaluation_keys, write_validation

    r, out = quick_report
    header = {"model_name": "relapse-risk", "model_version": "t", "artifact_sha256": "x" * 64,
              "data_dir": "d", "data_hash": "h" * 64}
    paths = write_validation(r, header, tmp_path)
    data = json.loads(paths[0].read_text())
    assert data["held_out"]["models"]["xgboost"]["auroc"]["estimate"] > 0.6
    md = paths[1].read_text()
    assert "beat" in md and "Subgroups" in md and "Censoring sensitivity" in md
    keys = evaluation_keys(r)
    for k in ("auroc_ci95", "baselines", "subgroups", "decision_curve", "censoring"):
        assert k in keys
    assert {p.name for p in out.iterdir()} >= {"decision_curve.png", "subgroup_forest.png"}


def test_survival_model_discriminates_and_agrees_with_classifier(quick_report):
    s = quick_report[0]["survival"]
    assert s["n"] >= 3000
    assert s["c_index"] > 0.6
    assert s["time_dependent_auroc"]["180"] > 0.68
    assert s["agreement_180d"]["pearson"] > 0.9
    for t in ("30", "90", "180"):
        # Mean risk tracks the Kaplan-Meier risk and the truth; risk grows with the horizon.
        assert abs(s["mean_risk"][t] - s["mean_true_risk"][t]) < 0.04, t
        assert s["mae_vs_true_risk"][t] < 0.1, t
    assert s["mean_risk"]["30"] < s["mean_risk"]["90"] < s["mean_risk"]["180"]


def test_ensemble_intervals_cover_and_stay_narrow(quick_report):
    iv = quick_report[0]["intervals"]
    assert iv["n"] >= 3000
    assert 0 < iv["mean_width"] < 0.3
    assert 0.0 < iv["coverage_true_probability"] <= 1.0
    assert iv["served_inside_interval"] > 0.5


def test_survival_and_ensemble_round_trip(tmp_path, prepared):
    from riskmodel.ensemble import BootstrapEnsemble
    from riskmodel.survival import SurvivalModel
    from training.intervals import fit_ensemble
    from training.survival import fit_survival

    p = prepared
    tr, va = p.rows(p.split.train)[:3000], p.rows(p.split.valid)[:1500]
    t = p.ts.frame["time_days"].to_numpy(float)
    e = p.ts.frame["event_observed"].to_numpy(bool)
    surv, _ = fit_survival(p.X[tr], t[tr], e[tr], p.X[va], t[va], e[va], seed=1)
    surv.save(tmp_path)
    again = SurvivalModel.load(tmp_path)
    X = p.X[:50]
    np.testing.assert_allclose(again.risk_at(X, 180.0), surv.risk_at(X, 180.0))
    curve = again.risk_curve(X[:1])[0]
    assert list(curve) == ["30", "90", "180", "365"] and curve["30"] < curve["365"]
    ens = fit_ensemble(p.X[tr], p.y[tr], p.weights[tr], p.ts.frame["patient_id"].to_numpy()[tr],
                       p.X[va], p.y[va], p.weights[va], rounds=20, members=3, seed=1)
    ens.save(tmp_path)
    lo, hi = BootstrapEnsemble.load(tmp_path).interval(X)
    np.testing.assert_allclose(lo, ens.interval(X)[0])
    assert (lo <= hi).all()


def test_promoted_version_carries_verified_curve_and_intervals(champion_dir, prepared, tmp_path):
    import shutil

    from riskmodel.artifact import ArtifactError, load_artifact
    from riskmodel.extras import load_extras

    manifest = json.loads((champion_dir / "manifest.json").read_text())
    assert {"survival_aft.ubj", "survival_aft.json", "ensemble.json"} <= set(manifest["files"])
    extras = load_extras(champion_dir)
    X = prepared.X[prepared.split.test][:200]
    p = RiskModel.load(champion_dir).predict_proba(X)
    lo, hi = extras.ensemble.interval(X)
    assert ((lo <= hi) & (hi - lo < 0.5)).all()
    assert np.mean((p >= lo - 0.05) & (p <= hi + 0.05)) > 0.9
    curve = extras.survival.risk_curve(X[:1])[0]
    assert curve["30"] < curve["90"] < curve["180"] < curve["365"]
    copy = tmp_path / champion_dir.name
    shutil.copytree(champion_dir, copy)
    (copy / "ensemble.json").write_text((copy / "ensemble.json").read_text().replace("0.95", "0.5"))
    with pytest.raises(ArtifactError, match="ensemble.json"):
        load_artifact(copy)
