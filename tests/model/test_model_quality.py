"""Behavioural and statistical checks of a model trained by the real `make train` job."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.spec import FEATURE_NAMES
from riskmodel.artifact import ArtifactError, load_artifact
from riskmodel.predictor import RiskModel

pytestmark = pytest.mark.filterwarnings("ignore")


def test_test_auroc_close_to_oracle_and_calibrated(trained):
    m = trained["metrics"]
    assert m["n_test"] >= 3000
    assert m["oracle_auroc"] - m["auroc_true_outcomes"] <= 0.05, m
    assert m["ece"] <= 0.05, m
    assert 0.8 <= m["calibration_slope"] <= 1.2, m


def test_promoted_version_exported_with_manifest_and_log(trained, champion_dir, project_settings):
    assert champion_dir.name == trained["version"]
    manifest = json.loads((champion_dir / "manifest.json").read_text())
    assert manifest["artifact_sha256"] == trained["artifact_sha256"]
    log = (project_settings.models_dir / "promotion_log.jsonl").read_text().splitlines()
    entry = json.loads(log[-1])
    assert entry["version"] == trained["version"] and all(g["passed"] for g in entry["gates"])


def test_altered_artifact_is_refused(champion_dir, tmp_path):
    import shutil

    copy = tmp_path / champion_dir.name
    shutil.copytree(champion_dir, copy)
    bands = copy / "risk_bands.json"
    bands.write_text(bands.read_text().replace("0.5", "0.9"))
    with pytest.raises(ArtifactError, match="checksum mismatch in risk_bands.json"):
        load_artifact(copy)


def test_explanations_add_up_to_served_probability(champion_dir, cohort_dir):
    from training.dataset import load_training_set

    model = RiskModel.load(champion_dir)
    X = load_training_set(cohort_dir, verbose=False).X[:3000]
    e = model.explain(X)
    p = model.predict_proba(X)
    logit = np.log(p / (1 - p))
    assert np.max(np.abs(e.base_log_odds + e.contributions.sum(axis=1) - logit)) < 1e-5
    np.testing.assert_allclose(e.probability, p, atol=1e-6)


def test_pred_contribs_equal_shap_tree_explainer(champion_dir, cohort_dir):
    import shap

    from training.dataset import load_training_set

    model = RiskModel.load(champion_dir)
    X = load_training_set(cohort_dir, verbose=False).X[:300]
    ours = model.explainer.shap_values(X)
    theirs = shap.TreeExplainer(model.booster).shap_values(X)
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-4)


def test_more_depression_and_craving_does_not_lower_risk_on_average(champion_dir, cohort_dir):
    from training.dataset import load_training_set

    model = RiskModel.load(champion_dir)
    X = load_training_set(cohort_dir, verbose=False).X[:3000].copy()
    base = model.predict_proba(X).mean()
    for name, value in (("phq9_total", 24.0), ("craving_vas_last", 9.0)):
        worse = X.copy()
        worse[:, FEATURE_NAMES.index(name)] = value
        assert model.predict_proba(worse).mean() > base, name


def test_served_engine_is_fast_and_equals_pred_contribs_on_the_champion(champion_dir, cohort_dir):
    from riskmodel.explain import ContribsExplainer
    from training.dataset import load_training_set

    model = RiskModel.load(champion_dir)
    assert model.explainer.engine == "fast"
    X = load_training_set(cohort_dir, verbose=False).X[:5000]
    np.testing.assert_allclose(model.explainer.shap_values(X),
                               ContribsExplainer(model.booster).shap_values(X), atol=1e-5)
    one = model.explainer.shap_values(X[:1])
    np.testing.assert_allclose(one, ContribsExplainer(model.booster).shap_values(X[:1]), atol=1e-5)


def test_gates_read_interval_bounds_and_judge_subgroups(trained):
    gates = {g["name"]: g["detail"] for g in trained["gates"]}
    # The fixture is a first promotion: no champion or reference yet, logistic regression is.
    assert set(gates) == {"auroc_floor", "calibration_error", "calibration_slope", "vs_logistic",
                          "subgroups", "calibration_interval", "low_band_is_low"}
    assert trained["decision"] == "promote"
    assert "lower bound" in gates["auroc_floor"] and "upper bound" in gates["calibration_error"]
    m = trained["metrics"]
    assert m["auroc_ci95_low"] < m["auroc"] < m["auroc_ci95_high"]
    # On synthetic data the truth's own ECE on the same labels is the floor (docs/validation.md).
    assert 0 < m["ece_noise_floor"] < 0.06 and m["ece_vs_true_probability"] < m["ece"] + 0.02
