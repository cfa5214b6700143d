"""Test-part metrics of a loaded model, through the same predictor serving uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from riskmodel.predictor import RiskModel
from training.metrics import classification_metrics


@dataclass(frozen=True)
class TestPart:
    """Test rows of a training set with their IPCW weights (0 where censored)."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    labelled: np.ndarray
    course_ids: pd.Index
    oracle: pd.DataFrame | None  # true_probability_180d, true_relapsed_180d per course


def evaluate_model(model: RiskModel, part: TestPart) -> dict:
    """IPCW-weighted metrics on labelled test courses; on synthetic data also the oracle view."""
    p = model.predict_proba(part.X)
    m = part.labelled
    metrics = classification_metrics(part.y[m], p[m], part.weights[m])
    metrics["n_test"] = int(len(part.y))
    metrics["n_test_labelled"] = int(m.sum())
    if part.oracle is not None:
        truth = part.oracle.reindex(part.course_ids)
        y_true = truth["true_relapsed_180d"].astype(bool).to_numpy()
        metrics["oracle_auroc"] = float(roc_auc_score(y_true, truth["true_probability_180d"]))
        # Same rows, true outcomes for every course (censored ones included): like for like.
        metrics["auroc_true_outcomes"] = float(roc_auc_score(y_true, p))
        metrics["oracle_gap"] = metrics["oracle_auroc"] - metrics["auroc_true_outcomes"]
        metrics["mean_abs_error_vs_true_probability"] = float(
            np.mean(np.abs(p - truth["true_probability_180d"].to_numpy())))
    return metrics
