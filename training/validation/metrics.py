"""Weighted metrics fast enough to recompute in every bootstrap draw.

All take IPCW (times bootstrap multiplicity) weights; rows of weight 0 drop out.
Calibration slope and intercept come from a two-parameter weighted logistic fit
of y on logit(p) by Newton's method (the same model as training.metrics, without
scikit-learn's per-call overhead).
"""

from __future__ import annotations

import numpy as np

from riskmodel.calibration import logit, sigmoid
from training.metrics import expected_calibration_error


def logistic_recalibration(y: np.ndarray, p: np.ndarray, w: np.ndarray,
                           iterations: int = 25) -> tuple[float, float]:
    """(slope, intercept) of the weighted fit y ~ intercept + slope * logit(p)."""
    x = logit(p)
    design = np.column_stack([np.ones_like(x), x])
    beta = np.array([0.0, 1.0])
    for _ in range(iterations):
        mu = sigmoid(design @ beta)
        grad = design.T @ (w * (y - mu))
        hess = (design * (w * mu * (1 - mu))[:, None]).T @ design
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return float(beta[1]), float(beta[0])


def _tie_groups(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by descending p and the tie-group index of each sorted row."""
    order = np.argsort(-p, kind="stable")
    ps = p[order]
    group = np.concatenate([[0], np.cumsum(ps[1:] != ps[:-1])])
    return order, group


def auroc_auprc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted AUROC (ties count half) and average precision (ties form one step),
    equal to scikit-learn's `roc_auc_score` / `average_precision_score`."""
    order, group = _tie_groups(p)
    yy, ww = y[order].astype(bool), w[order]
    n_groups = int(group[-1]) + 1
    pos = np.bincount(group, weights=ww * yy, minlength=n_groups)
    neg = np.bincount(group, weights=ww * ~yy, minlength=n_groups)
    total_pos, total_neg = pos.sum(), neg.sum()
    # Groups run from the highest score down: negatives ranked below group g come after it.
    neg_below = total_neg - np.cumsum(neg)
    auroc = float(np.sum(pos * (neg_below + 0.5 * neg)) / (total_pos * total_neg))
    cum_pos, cum_all = np.cumsum(pos), np.cumsum(pos + neg)
    precision = np.divide(cum_pos, cum_all, out=np.zeros_like(cum_pos), where=cum_all > 0)
    auprc = float(np.sum(pos / total_pos * precision))
    return auroc, auprc


def weighted_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Discrimination and calibration of probabilities `p` against labels `y`."""
    keep = w > 0
    y, p, w = y[keep].astype(float), p[keep], w[keep]
    if y.min() == y.max():
        raise ValueError("one class only")
    slope, intercept = logistic_recalibration(y, p, w)
    auroc, auprc = auroc_auprc(y, p, w)
    return {
        "auroc": auroc,
        "auprc": auprc,
        "brier": float(np.average((p - y) ** 2, weights=w)),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "ece": expected_calibration_error(y, p, w),
        # mean predicted minus observed (IPCW) rate: > 0 over-predicts
        "calibration_in_the_large": float(np.average(p, weights=w) - np.average(y, weights=w)),
    }

