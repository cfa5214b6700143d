"""Exact TreeSHAP contributions in the booster's margin space.

XGBoost's own `pred_contribs` is exact path-dependent TreeSHAP, the same
numbers `shap.TreeExplainer` gives (a test checks), without shap's overhead.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb


class ContribsExplainer:
    """SHAP values via `Booster.predict(pred_contribs=True)`; last column is the bias."""

    engine = "pred_contribs"

    def __init__(self, booster: xgb.Booster) -> None:
        self._booster = booster

    def shap_values(self, matrix: np.ndarray) -> np.ndarray:
        dm = xgb.DMatrix(matrix, missing=np.nan, feature_names=self._booster.feature_names)
        return self._booster.predict(dm, pred_contribs=True).astype(np.float64)


def make_explainer(booster: xgb.Booster) -> ContribsExplainer:
    return ContribsExplainer(booster)
