"""Refit the whole training procedure on a subset of rows (one fold, one scheme).

The procedure is the one `make train` runs: a patient-grouped inner split of the
training rows into fit / early-stopping+calibration parts, a censoring model fitted
on the training rows only, IPCW weights (truncated at the training cap), XGBoost
with early stopping and Platt calibration. The baselines see the same rows and
weights, so every comparison is like for like.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from riskmodel.calibration import sigmoid
from training.baselines import ClinicalRule, LogisticBaseline
from training.censoring import CensoringModel
from training.fit import FitParams, FittedModel, fit_model
from training.prepare import censoring_covariates, fit_censoring, with_risk_score

Variant = Literal["ipcw", "complete_case", "missing_as_relapse"]
VARIANTS: tuple[Variant, ...] = ("ipcw", "complete_case", "missing_as_relapse")


@dataclass(frozen=True)
class Data:
    """The arrays every scheme needs, one row per course."""

    X: np.ndarray
    y: np.ndarray  # False where censored
    known: np.ndarray  # label known (not censored before 180 days)
    time_days: np.ndarray
    groups: np.ndarray  # patient ids
    Z: pd.DataFrame  # the censoring model's covariates (training.prepare.censoring_covariates)
    mature: np.ndarray  # followed long enough before the data cut-off to be labelled
    true_p: np.ndarray | None = None  # synthetic data only: the oracle's probability
    true_y: np.ndarray | None = None  # and true 180-day outcome, censored courses included

    @classmethod
    def from_prepared(cls, prep, oracle: pd.DataFrame | None = None) -> Data:
        """`prep`: training.prepare.Prepared; `oracle`: load_oracle(data_dir) or None."""
        true_p = true_y = None
        if oracle is not None:
            truth = oracle.reindex(prep.ts.frame.index)
            true_p = truth["true_probability_180d"].to_numpy(dtype=float)
            true_y = truth["true_relapsed_180d"].astype(bool).to_numpy()
        return cls(prep.X, prep.y, prep.known,
                   prep.ts.frame["time_days"].to_numpy(dtype=float),
                   prep.ts.frame["patient_id"].to_numpy(), censoring_covariates(prep.ts),
                   prep.ts.frame["mature"].to_numpy(bool), true_p, true_y)


@dataclass(frozen=True)
class XgbPredictor:
    fitted: FittedModel

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        margin = self.fitted.booster.inplace_predict(X, predict_type="margin", missing=np.nan)
        return sigmoid(self.fitted.calibrator.log_odds(margin))


@dataclass
class FoldModels:
    xgb: XgbPredictor
    logistic: LogisticBaseline | None
    rule: ClinicalRule | None
    censoring: CensoringModel
    cap: float
    Z: pd.DataFrame  # censoring covariates with this fold's risk score

    def ipcw(self, data: Data, rows: np.ndarray) -> np.ndarray:
        """Evaluation weights for `rows` from the training-rows censoring model."""
        return self.censoring.weights(self.Z.iloc[rows], data.time_days[rows],
                                      data.known[rows], cap=self.cap).weights


def inner_split(groups: np.ndarray, rows: np.ndarray, seed: int,
                valid: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Patient-grouped fit / validation split of `rows` (train:valid = 60:20 as in make train)."""
    gss = GroupShuffleSplit(n_splits=1, test_size=valid, random_state=seed)
    a, b = next(gss.split(rows, groups=groups[rows]))
    return np.sort(rows[a]), np.sort(rows[b])


def variant_labels(data: Data, rows: np.ndarray, ipcw: np.ndarray,
                   variant: Variant) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows used, labels, weights) under a censoring variant."""
    known = data.known[rows]
    if variant == "ipcw":
        return rows[known], data.y[rows][known], ipcw[known]
    if variant == "complete_case":
        return rows[known], data.y[rows][known], np.ones(int(known.sum()))
    # Missing counted as relapse: every course used, a censored one labelled 1.
    return rows, np.where(known, data.y[rows], True), np.ones(len(rows))


def refit(data: Data, train_rows: np.ndarray, *, seed: int, params: FitParams | None = None,
          variant: Variant = "ipcw", baselines: bool = True) -> FoldModels:
    params = params or FitParams()
    fit_rows, valid_rows = inner_split(data.groups, train_rows, seed)
    Z = with_risk_score(data.Z, data.X, data.y, data.known, data.mature, fit_rows, seed)
    data = replace(data, Z=Z)
    censoring = fit_censoring(data.Z, data.time_days, data.known, data.mature, fit_rows,
                              valid_rows)
    fit_w = censoring.weights(data.Z.iloc[fit_rows], data.time_days[fit_rows],
                              data.known[fit_rows])
    cap = fit_w.truncated_at
    valid_w = censoring.weights(data.Z.iloc[valid_rows], data.time_days[valid_rows],
                                data.known[valid_rows], cap=cap).weights
    fr, fy, fw = variant_labels(data, fit_rows, fit_w.weights, variant)
    vr, vy, vw = variant_labels(data, valid_rows, valid_w, variant)
    fitted = fit_model(data.X[fr], fy, fw, data.X[vr], vy, vw, params=params, seed=seed)
    logistic = rule = None
    if baselines:
        rows = np.concatenate([fr, vr])
        y, w = np.concatenate([fy, vy]), np.concatenate([fw, vw])
        logistic = LogisticBaseline().fit(data.X[rows], y, w)
        rule = ClinicalRule.fit(data.X[rows], y, w)
    return FoldModels(XgbPredictor(fitted), logistic, rule, censoring, cap, data.Z)
