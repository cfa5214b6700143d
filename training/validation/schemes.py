"""Validation schemes: held-out test, repeated grouped CV, temporal, leave-one-site-out.

Each refits the training procedure (training.validation.refit) on its training
rows and scores XGBoost and the baselines on its test rows with IPCW weights from
the censoring model of those training rows. On synthetic data each also reports
AUROC against the true outcomes of every test course (censored ones included).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from training.fit import FitParams
from training.validation.compare import compare_models
from training.validation.metrics import auroc_auprc, weighted_metrics
from training.validation.refit import Data, FoldModels, refit

REFERENCE = "xgboost"


def predictions(models: FoldModels, X: np.ndarray) -> dict[str, np.ndarray]:
    out = {REFERENCE: models.xgb.predict_proba(X)}
    if models.logistic is not None:
        out["logistic_regression"] = models.logistic.predict_proba(X)
    if models.rule is not None:
        out["clinical_rule"] = models.rule.predict_proba(X)
    return out


def truth_view(data: Data, rows: np.ndarray, preds: dict[str, np.ndarray]) -> dict | None:
    """AUROC against the true outcome of every row, the oracle's own, and the gap."""
    if data.true_y is None or data.true_p is None:
        return None
    y, ones = data.true_y[rows], np.ones(len(rows))
    oracle = auroc_auprc(y, data.true_p[rows], ones)[0]
    out = {"oracle_auroc": oracle, "true_rate": float(y.mean()),
           "mean_true_probability": float(data.true_p[rows].mean())}
    for name, p in preds.items():
        out[f"{name}_auroc_true_outcomes"] = auroc_auprc(y, p, ones)[0]
    out["oracle_gap"] = oracle - out[f"{REFERENCE}_auroc_true_outcomes"]
    return out


def score_rows(data: Data, models: FoldModels, rows: np.ndarray, *, n_boot: int,
               seed: int) -> dict:
    preds = predictions(models, data.X[rows])
    w = models.ipcw(data, rows)
    result = compare_models(data.y[rows], w, data.groups[rows], preds, reference=REFERENCE,
                            n_boot=n_boot, seed=seed)
    result["n_courses"] = int(len(rows))
    result["n_labelled"] = int(data.known[rows].sum())
    result["truth"] = truth_view(data, rows, preds)
    return result


def repeated_cv(data: Data, *, repeats: int, folds: int, seed: int,
                params: FitParams | None = None) -> dict:
    """Patient-grouped K-fold repeated with new shuffles; fold-level metrics and their spread."""
    per_fold: list[dict] = []
    for r in range(repeats):
        kfold = GroupKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        for k, (tr, te) in enumerate(kfold.split(data.X, groups=data.groups)):
            models = refit(data, tr, seed=seed + 100 * r + k, params=params)
            preds = predictions(models, data.X[te])
            w = models.ipcw(data, te)
            row: dict[str, float] = {"repeat": r, "fold": k, "n": int(data.known[te].sum())}
            for name, p in preds.items():
                for metric, value in weighted_metrics(data.y[te], p, w).items():
                    row[f"{name}.{metric}"] = value
            truth = truth_view(data, te, preds)
            if truth:
                row.update({f"truth.{k2}": v for k2, v in truth.items()})
            per_fold.append(row)
    table = pd.DataFrame(per_fold)
    summary = {}
    for col in table.columns:
        if "." in col:
            v = table[col].to_numpy(dtype=float)
            summary[col] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                            "min": float(v.min()), "max": float(v.max())}
    wins = table[f"{REFERENCE}.auroc"] > table["logistic_regression.auroc"]
    return {"repeats": repeats, "folds": folds, "summary": summary,
            "xgboost_beats_logistic_in_folds": int(wins.sum()), "n_folds": int(len(table)),
            "per_fold": per_fold}


def course_end_dates(frame: pd.DataFrame) -> pd.Series:
    """Course end = intake date + course length (the feature builder's definition)."""
    return frame["intake_date"] + pd.to_timedelta(frame["course_length_days"], unit="D")


def temporal(data: Data, course_end: pd.Series, *, seed: int, horizon_days: int,
             train_share: float, n_boot: int, params: FitParams | None = None) -> dict:
    """Train on courses whose 180-day window closed before the cutoff, test on later courses.

    The cutoff is the `train_share` quantile of course end dates (a computed date, the
    first of its month), so the scheme adapts to any cohort's calendar span.
    """
    end_s = pd.Series(pd.to_datetime(course_end).to_numpy())
    cutoff = end_s.quantile(train_share).to_period("M").to_timestamp()
    closed = (end_s + pd.Timedelta(days=horizon_days) <= cutoff).to_numpy()
    train_rows, test_rows = np.flatnonzero(closed), np.flatnonzero((end_s >= cutoff).to_numpy())
    end = end_s.to_numpy()
    models = refit(data, train_rows, seed=seed, params=params)
    result = score_rows(data, models, test_rows, n_boot=n_boot, seed=seed)
    seen = np.isin(data.groups[test_rows], data.groups[train_rows])
    result.update({"cutoff": str(cutoff.date()), "n_train": int(len(train_rows)),
                   "n_gap_excluded": int(len(end) - len(train_rows) - len(test_rows)),
                   "test_share_patients_seen_in_training": float(seen.mean()),
                   "train_period": [str(pd.Timestamp(end[train_rows].min()).date()),
                                    str(pd.Timestamp(end[train_rows].max()).date())],
                   "test_period": [str(pd.Timestamp(end[test_rows].min()).date()),
                                   str(pd.Timestamp(end[test_rows].max()).date())]})
    return result


def leave_one_site_out(data: Data, sites: np.ndarray, *, seed: int, n_boot: int,
                       params: FitParams | None = None) -> dict:
    out = {}
    for i, site in enumerate(sorted(set(sites))):
        test_rows, train_rows = np.flatnonzero(sites == site), np.flatnonzero(sites != site)
        models = refit(data, train_rows, seed=seed + i, params=params)
        out[str(site)] = score_rows(data, models, test_rows, n_boot=n_boot, seed=seed + i)
    return out
