"""Test-part metrics of a loaded model, through the same predictor serving uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from riskmodel.predictor import RiskModel
from training.metrics import classification_metrics, expected_calibration_error


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
        true_p = truth["true_probability_180d"].to_numpy()
        metrics["mean_abs_error_vs_true_probability"] = float(np.mean(np.abs(p - true_p)))
        # The truth scored like a model on the same IPCW labels: the ECE that sampling noise
        # alone produces here (a model cannot be expected to score below it).
        metrics["ece_noise_floor"] = expected_calibration_error(part.y[m], true_p[m],
                                                                part.weights[m])
        # The model's calibration against the true risk itself (no outcome noise).
        metrics["ece_vs_true_probability"] = expected_calibration_error(true_p, p)
    return metrics


def evaluation_plots(model: RiskModel, part: TestPart, metrics: dict, out_dir: Path,
                     shap_rows: int = 2000) -> list[Path]:
    """ROC (with the oracle's on synthetic data), reliability diagram, global SHAP summary."""
    from features.spec import FEATURE_LABELS, FEATURE_NAMES
    from training import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    p = model.predict_proba(part.X)
    m = part.labelled
    oracle_curve = None
    if part.oracle is not None:
        truth = part.oracle.reindex(part.course_ids)
        oracle_curve = (truth["true_relapsed_180d"].astype(bool).to_numpy(),
                        truth["true_probability_180d"].to_numpy())
    sample = part.X[:shap_rows]
    return [
        plots.roc_plot(part.y[m], p[m], part.weights[m], out_dir / "roc.png",
                       auroc=metrics["auroc"], oracle=oracle_curve),
        plots.reliability_plot(part.y[m], p[m], part.weights[m], out_dir / "reliability.png"),
        plots.shap_summary_plot(model.explain(sample).contributions, sample,
                                [FEATURE_LABELS[n] for n in FEATURE_NAMES],
                                out_dir / "shap_summary.png"),
    ]
