"""Baselines evaluated beside XGBoost on the same rows and weights.

- Logistic regression on the same features (median imputation plus missing
  indicators, standardised, L2); its own probabilities, no extra calibration.
- A clinical rule a clinician could apply without a model: AUDIT >= 20
  (possible dependence, WHO 2001) or PHQ-9 >= 10 (at least moderate
  depression, Kroenke 2001). Its "probability" is the IPCW-weighted relapse
  rate of rule-positive and rule-negative training courses, so calibration
  metrics are defined; its AUROC is (sensitivity + specificity) / 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from features.spec import FEATURE_NAMES

RULE_TEXT = "AUDIT >= 20 or PHQ-9 >= 10"
_AUDIT = FEATURE_NAMES.index("audit_total")
_PHQ9 = FEATURE_NAMES.index("phq9_total")


def rule_positive(X: np.ndarray) -> np.ndarray:
    """The clinical rule on the feature matrix; a missing score does not make it positive."""
    with np.errstate(invalid="ignore"):
        return (X[:, _AUDIT] >= 20) | (X[:, _PHQ9] >= 10)


@dataclass(frozen=True)
class ClinicalRule:
    p_positive: float
    p_negative: float

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> ClinicalRule:
        pos = rule_positive(X)
        rate = lambda m: float(np.average(y[m], weights=w[m])) if w[m].sum() > 0 else float(  # noqa: E731
            np.average(y, weights=w))
        return cls(rate(pos), rate(~pos))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.where(rule_positive(X), self.p_positive, self.p_negative)


class LogisticBaseline:
    """Logistic regression on the model's features, IPCW-weighted like the model."""

    def __init__(self, C: float = 1.0) -> None:
        self.pipeline: Pipeline = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(), LogisticRegression(C=C, max_iter=2000))

    def fit(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> LogisticBaseline:
        self.pipeline.fit(X, y.astype(int), logisticregression__sample_weight=w)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(X)[:, 1]
