"""Exact TreeSHAP contributions in the booster's margin space.

The served engine is `riskmodel.treeshap` (table-based exact TreeSHAP, tens of
times faster than XGBoost's own); it checks itself against `pred_contribs` at
load and falls back to it, logged once, for models it cannot handle. XGBoost's
`pred_contribs` (what `shap.TreeExplainer` also calls) stays as the reference
and the fallback. Tables are built from the booster after its checksum has
been verified, so they are covered by the artifact check.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np
import xgboost as xgb

from riskmodel.treeshap import TreeShapExplainer, UnsupportedModelError

log = logging.getLogger(__name__)


class Explainer(Protocol):
    engine: str

    def shap_values(self, matrix: np.ndarray) -> np.ndarray: ...


class ContribsExplainer:
    """SHAP values via `Booster.predict(pred_contribs=True)`; last column is the bias."""

    engine = "pred_contribs"

    def __init__(self, booster: xgb.Booster) -> None:
        self._booster = booster

    def shap_values(self, matrix: np.ndarray) -> np.ndarray:
        dm = xgb.DMatrix(matrix, missing=np.nan, feature_names=self._booster.feature_names)
        return self._booster.predict(dm, pred_contribs=True).astype(np.float64)


def make_explainer(booster: xgb.Booster, *, engine: str = "fast") -> Explainer:
    """The fast engine when it can handle the model, else `pred_contribs`."""
    if engine == "pred_contribs":
        return ContribsExplainer(booster)
    try:
        return TreeShapExplainer.from_booster(booster)
    except UnsupportedModelError as exc:
        log.warning("fast TreeSHAP refused this model (%s); using pred_contribs", exc)
        return ContribsExplainer(booster)
