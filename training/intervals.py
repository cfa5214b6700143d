"""Fit the bootstrap ensemble behind prediction intervals and measure its coverage.

Members: B patient-level bootstrap resamples of the training part, each trained with the
champion's parameters for the champion's number of rounds (no early stopping per member,
so the spread is the sample's, not the stopping rule's), Platt-calibrated on the validation
part. Coverage on synthetic data: the share of test courses whose *true* probability lies
in their interval, overall and by predicted-risk band; the mean width says what it costs.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb

from features.spec import FEATURE_NAMES
from riskmodel.calibration import PlattCalibrator
from riskmodel.ensemble import BootstrapEnsemble
from training.fit import FitParams
from training.validation.bootstrap import patient_multiplicities


def fit_ensemble(X_tr: np.ndarray, y_tr: np.ndarray, w_tr: np.ndarray, groups_tr: np.ndarray,
                 X_va: np.ndarray, y_va: np.ndarray, w_va: np.ndarray, *, rounds: int,
                 members: int, seed: int, params: FitParams | None = None,
                 level: float = 0.95) -> BootstrapEnsemble:
    params = params or FitParams()
    boosters, calibrators = [], []
    names = list(FEATURE_NAMES)
    dva = xgb.DMatrix(X_va, feature_names=names, missing=np.nan)
    # One quantised matrix for every member (a resample is a weight vector): the histogram
    # cuts and the bin index are built once instead of once per member; 1M courses: ~2x
    # less time per member (bench/NOTES.md "Training at scale").
    d = xgb.QuantileDMatrix(X_tr, label=y_tr, weight=w_tr, feature_names=names, missing=np.nan)
    for i, mult in enumerate(patient_multiplicities(groups_tr, members, seed)):
        d.set_weight(w_tr * mult)
        b = xgb.train(params.xgb_params(seed + i), d, num_boost_round=rounds)
        calibrators.append(PlattCalibrator.fit(b.predict(dva, output_margin=True), y_va, w_va))
        boosters.append(b)
    return BootstrapEnsemble(tuple(boosters), tuple(calibrators), level)


def coverage(ensemble: BootstrapEnsemble, X: np.ndarray, served_p: np.ndarray,
             true_p: np.ndarray | None, bands: tuple[float, float]) -> dict:
    lo, hi = ensemble.interval(X)
    out: dict = {"members": len(ensemble.boosters), "level": ensemble.level, "n": int(len(X)),
                 "mean_width": float(np.mean(hi - lo)), "median_width": float(np.median(hi - lo)),
                 "served_inside_interval": float(np.mean((served_p >= lo) & (served_p <= hi)))}
    if true_p is not None:
        inside = (true_p >= lo) & (true_p <= hi)
        out["coverage_true_probability"] = float(inside.mean())
        band = np.digitize(served_p, bands)
        out["coverage_by_band"] = {name: float(inside[band == k].mean())
                                   for k, name in enumerate(("low", "moderate", "high"))
                                   if (band == k).any()}
    return out
