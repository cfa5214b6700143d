"""Discrimination and calibration metrics, all accepting IPCW sample weights."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from riskmodel.calibration import logit


def expected_calibration_error(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
                               bins: int = 10) -> float:
    """Weighted ECE over equal-width probability bins."""
    w = np.ones_like(p) if w is None else w
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total, err = w.sum(), 0.0
    for b in range(bins):
        m = which == b
        if w[m].sum() > 0:
            err += w[m].sum() / total * abs(np.average(y[m], weights=w[m]) - np.average(p[m], weights=w[m]))
    return float(err)


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray,
                                w: np.ndarray | None = None) -> tuple[float, float]:
    """Logistic recalibration y ~ a + b * logit(p): slope b (ideal 1), intercept a (ideal 0)."""
    model = LogisticRegression(C=np.inf, max_iter=1000)
    model.fit(logit(p).reshape(-1, 1), y.astype(int), sample_weight=w)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def classification_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict:
    slope, intercept = calibration_slope_intercept(y, p, w)
    return {
        "auroc": float(roc_auc_score(y, p, sample_weight=w)),
        "auprc": float(average_precision_score(y, p, sample_weight=w)),
        "brier": float(brier_score_loss(y, p, sample_weight=w)),
        "ece": expected_calibration_error(y, p, w),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "n": int(len(y)),
    }
