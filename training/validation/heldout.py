"""The champion on its own held-out test part: metrics, baselines, oracle gap, cut points."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression

from riskmodel.predictor import RiskModel
from training.baselines import RULE_TEXT, ClinicalRule, LogisticBaseline
from training.dca import decision_curve, operating_point, useful_range
from training.validation.bootstrap import patient_multiplicities, percentile_interval
from training.validation.compare import compare_models
from training.validation.metrics import auroc_auprc, weighted_metrics
from training.validation.schemes import REFERENCE

# "Beats treat-all" must mean something: at least 5 net true positives per 1,000 courses.
NET_BENEFIT_MARGIN = 0.005


def champion_predictions(model: RiskModel, prep) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Champion and baselines (fitted on the champion's train + validation rows) on test rows."""
    fit_rows = prep.rows(np.concatenate([prep.split.train, prep.split.valid]))
    X, y, w = prep.X[fit_rows], prep.y[fit_rows], prep.weights[fit_rows]
    test = prep.split.test
    preds = {REFERENCE: model.predict_proba(prep.X[test]),
             "logistic_regression": LogisticBaseline().fit(X, y, w).predict_proba(prep.X[test]),
             "clinical_rule": ClinicalRule.fit(X, y, w).predict_proba(prep.X[test])}
    return preds, test


def oracle_gap(true_y: np.ndarray, true_p: np.ndarray, p: np.ndarray, groups: np.ndarray, *,
               n_boot: int, seed: int) -> dict:
    """Oracle AUROC minus the model's AUROC on the same rows' true outcomes, paired bootstrap."""
    ones = np.ones(len(p))
    point = auroc_auprc(true_y, true_p, ones)[0] - auroc_auprc(true_y, p, ones)[0]
    draws = [auroc_auprc(true_y, true_p, m)[0] - auroc_auprc(true_y, p, m)[0]
             for m in patient_multiplicities(groups, n_boot, seed)]
    return percentile_interval(point, np.array(draws)).as_dict()


def cut_points(y: np.ndarray, p: np.ndarray, w: np.ndarray, groups: np.ndarray,
               cuts: dict[str, float], curve: dict, *, n_boot: int, seed: int) -> dict:
    """Operating characteristics at each band cut with intervals, and why the cuts stand."""
    out: dict = {"cuts": {}}
    for name, cut in cuts.items():
        point = operating_point(y, p, w, cut)
        draws = [operating_point(y, p, w * m, cut)
                 for m in patient_multiplicities(groups, n_boot, seed)]
        out["cuts"][name] = {"cut": cut, **{
            k: percentile_interval(v, np.array([d[k] for d in draws])).as_dict()
            for k, v in point.items()}}
        ts = np.array(curve["thresholds"])
        i = int(np.argmin(np.abs(ts - cut)))
        out["cuts"][name].update({
            "net_benefit_treat_all": curve["treat_all"][i],
            "referrals_accepted_per_relapse_reached": (1 - cut) / cut})
    grid = np.array(curve["thresholds"])
    youden = [operating_point(y, p, w, float(t)) for t in grid]
    j = int(np.argmax([o["sensitivity"] + o["specificity"] - 1 for o in youden]))
    out["youden_threshold"] = float(grid[j])
    rng = useful_range(curve, REFERENCE, margin=NET_BENEFIT_MARGIN)
    out["useful_range"] = list(rng) if rng else None
    out["net_benefit_margin"] = NET_BENEFIT_MARGIN
    out["cuts_within_useful_range"] = {
        name: bool(rng is not None and rng[0] <= cut <= rng[1]) for name, cut in cuts.items()}
    return out


def isotonic_comparison(model: RiskModel, prep) -> dict:
    """Isotonic recalibration on the validation part, for comparison only (never served)."""
    va, te = prep.rows(prep.split.valid), prep.rows(prep.split.test)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4)
    iso.fit(model.predict_proba(prep.X[va]), prep.y[va], sample_weight=prep.weights[va])
    p_platt = model.predict_proba(prep.X[te])
    p_iso = iso.predict(p_platt)
    y, w = prep.y[te], prep.weights[te]
    keys = ("ece", "brier", "calibration_slope", "auroc")
    return {"platt": {k: weighted_metrics(y, p_platt, w)[k] for k in keys},
            "isotonic": {k: weighted_metrics(y, p_iso, w)[k] for k in keys},
            "note": "isotonic breaks the SHAP add-up identity; reported, not served"}


def held_out_report(model: RiskModel, prep, data, *, n_boot: int, seed: int,
                    ) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """`data`: training.validation.refit.Data of the same prepared set (truth if synthetic)."""
    preds, test = champion_predictions(model, prep)
    y, w, groups = prep.y[test], prep.weights[test], data.groups[test]
    result = compare_models(y, w, groups, preds, reference=REFERENCE, n_boot=n_boot, seed=seed)
    result["n_courses"], result["n_labelled"] = int(len(test)), int(prep.known[test].sum())
    result["rule"] = RULE_TEXT
    if data.true_y is not None:
        result["oracle_auroc"] = auroc_auprc(data.true_y[test], data.true_p[test],
                                             np.ones(len(test)))[0]
        result["auroc_true_outcomes"] = auroc_auprc(data.true_y[test], preds[REFERENCE],
                                                    np.ones(len(test)))[0]
        result["oracle_gap"] = oracle_gap(data.true_y[test], data.true_p[test], preds[REFERENCE],
                                          groups, n_boot=n_boot, seed=seed)
        # The true probabilities scored like a model on the same labels and draws: the ECE
        # that outcome noise alone gives here, the floor any model's ECE is read against.
        truth = compare_models(y, w, groups, {"truth": data.true_p[test]}, reference="truth",
                               n_boot=n_boot, seed=seed)["models"]["truth"]
        result["ece_noise_floor"] = truth["ece"]
    curve = decision_curve(y[w > 0], w[w > 0], {k: v[w > 0] for k, v in preds.items()})
    bands = model.bands
    result["decision_curve"] = curve
    result["cut_points"] = cut_points(y, preds[REFERENCE], w, groups,
                                      {"moderate_from": bands.moderate_from,
                                       "high_from": bands.high_from},
                                      curve, n_boot=n_boot, seed=seed)
    result["isotonic_comparison"] = isotonic_comparison(model, prep)
    return result, preds, test
