"""Fit and validate the time-to-relapse model (XGBoost survival:aft, Weibull).

Labels: an observed relapse on day T is the interval [T, T]; a course followed to day F
without relapse is right-censored, [F, +inf). All follow-up is used (up to about a year),
so risks at 30, 90, 180 and 365 days come from one model. sigma (1 / Weibull shape) is
chosen among a few values by the validation part's AFT negative log-likelihood, with early
stopping on it.

Validation: Harrell's c-index (higher risk, earlier relapse), cumulative/dynamic
time-dependent AUROC at 30/90/180 days with IPCW from a Kaplan-Meier censoring
distribution (Uno et al. 2007), agreement of the 180-day risk with the classifier, and on
synthetic data the error against the true risk curve: the generator's relapse time is
Weibull with shape 0.8 scaled so that P(T <= 180) = p, so P(T <= t) = 1 - (1 - p)^((t/180)^0.8).
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb

from features.spec import FEATURE_NAMES
from riskmodel.survival import SurvivalModel
from training.validation.metrics import auroc_auprc

SIGMAS = (0.9, 1.25, 1.6)
TRUE_SHAPE = 0.8  # synthetic generator (docs/data_card.md)


def _dmatrix(X: np.ndarray, time: np.ndarray, event: np.ndarray) -> xgb.DMatrix:
    d = xgb.DMatrix(X, feature_names=list(FEATURE_NAMES), missing=np.nan)
    t = np.maximum(time, 1.0)  # day 0 (drink on the discharge day) as day 1: log needs t > 0
    d.set_float_info("label_lower_bound", t)
    d.set_float_info("label_upper_bound", np.where(event, t, np.inf))
    return d


SIGMA_SEARCH_ROWS = 100_000  # above this, sigma is chosen on a sample, then refitted once


def _fit_one(dtr: xgb.DMatrix, dva: xgb.DMatrix, sigma: float, seed: int) -> tuple[float, xgb.Booster]:
    params = {"objective": "survival:aft", "eval_metric": "aft-nloglik",
              "aft_loss_distribution": "extreme", "aft_loss_distribution_scale": sigma,
              "tree_method": "hist", "max_depth": 3, "eta": 0.15, "subsample": 0.8,
              "colsample_bytree": 0.8, "min_child_weight": 5.0, "nthread": 2, "seed": seed}
    booster = xgb.train(params, dtr, num_boost_round=2000, evals=[(dva, "valid")],
                        early_stopping_rounds=50, verbose_eval=False)
    score = float(booster.best_score)  # slicing drops it
    return score, booster[: booster.best_iteration + 1]


def fit_survival(X_tr: np.ndarray, t_tr: np.ndarray, e_tr: np.ndarray, X_va: np.ndarray,
                 t_va: np.ndarray, e_va: np.ndarray, *, seed: int) -> tuple[SurvivalModel, dict]:
    """Choose sigma by validation NLL (on at most SIGMA_SEARCH_ROWS training rows: the shape
    of the time distribution is settled long before 1M courses), then fit it on all rows."""
    rng = np.random.default_rng(seed)
    search = (np.sort(rng.choice(len(t_tr), SIGMA_SEARCH_ROWS, replace=False))
              if len(t_tr) > SIGMA_SEARCH_ROWS else slice(None))
    dtr, dva = _dmatrix(X_tr[search], t_tr[search], e_tr[search]), _dmatrix(X_va, t_va, e_va)
    scores, boosters = {}, {}
    for sigma in SIGMAS:
        scores[sigma], boosters[sigma] = _fit_one(dtr, dva, sigma, seed)
    sigma = min(scores, key=scores.__getitem__)
    booster = boosters[sigma]
    if isinstance(search, np.ndarray):
        _, booster = _fit_one(_dmatrix(X_tr, t_tr, e_tr), dva, sigma, seed)
    return SurvivalModel(booster, sigma), {"valid_nloglik_by_sigma": scores, "sigma": sigma,
                                           "sigma_search_rows": int(len(t_tr[search]))}


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C: among comparable pairs (the earlier time is an event), the share where
    the earlier relapse had the higher risk; ties in risk count half."""
    from lifelines.utils import concordance_index

    return float(concordance_index(time, -risk, event))


def _km_censoring(time: np.ndarray, event: np.ndarray):
    """G(t) = P(still followed at t), Kaplan-Meier with censoring as the event."""
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(time, event_observed=~event)
    return lambda t: np.clip(km.survival_function_at_times(np.asarray(t)).to_numpy(), 1e-3, 1)


def time_dependent_auroc(time: np.ndarray, event: np.ndarray, risk_t: np.ndarray,
                         t: float, G) -> float:
    """Cumulative cases (relapse by t, weight 1/G(T-)) vs dynamic controls (T > t)."""
    case = event & (time <= t)
    control = time > t
    rows = case | control
    w = np.where(case, 1.0 / G(np.maximum(time - 1, 0)), 1.0 / G(t))
    return auroc_auprc(case[rows], risk_t[rows], w[rows])[0]


def true_risk_at(true_p180: np.ndarray, days: float) -> np.ndarray:
    return 1.0 - (1.0 - true_p180) ** ((days / 180.0) ** TRUE_SHAPE)


def validate_survival(model: SurvivalModel, X: np.ndarray, time: np.ndarray,
                      event: np.ndarray, *, classifier_p: np.ndarray | None = None,
                      true_p180: np.ndarray | None = None,
                      horizons: tuple[int, ...] = (30, 90, 180)) -> dict:
    risk180 = model.risk_at(X, 180.0)
    G = _km_censoring(time, event)
    out: dict = {"c_index": concordance(time, event, risk180), "time_dependent_auroc": {},
                 "mean_risk": {}, "sigma": model.sigma, "n": int(len(time))}
    for t in horizons:
        r = model.risk_at(X, float(t))
        out["time_dependent_auroc"][str(t)] = time_dependent_auroc(time, event, r, t, G)
        out["mean_risk"][str(t)] = float(r.mean())
        if true_p180 is not None:
            truth = true_risk_at(true_p180, t)
            out.setdefault("mae_vs_true_risk", {})[str(t)] = float(np.mean(np.abs(r - truth)))
            out.setdefault("mean_true_risk", {})[str(t)] = float(truth.mean())
    # Kaplan-Meier relapse-free share: the model's mean risk should match 1 - KM at t.
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(time, event_observed=event)
    out["kaplan_meier_risk"] = {str(t): float(1 - km.survival_function_at_times(t).iloc[0])
                                for t in horizons}
    if classifier_p is not None:
        out["agreement_180d"] = {
            "pearson": float(np.corrcoef(risk180, classifier_p)[0, 1]),
            "mean_difference": float(np.mean(risk180 - classifier_p)),
            "mean_abs_difference": float(np.mean(np.abs(risk180 - classifier_p)))}
    return out
