"""ENGINE=dask for `make train`: features in dask partitions, boosting with xgboost.dask.

The split, IPCW weights and Platt calibration are the pandas engine's own
functions applied to the gathered course-level arrays (small next to the raw
session records), so the two engines differ only in where features are built
and trees are grown. A test checks their test AUROC agree within 0.01.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from compute.dask_client import get_client, n_workers
from features.spec import FEATURE_NAMES
from riskmodel.calibration import PlattCalibrator
from training.dask_features import load_training_set_dask
from training.dataset import console
from training.fit import FitParams, FittedModel
from training.prepare import Prepared, prepare_from_set


def prepare_dask(data_dir: Path, *, seed: int, quarantine_dir: Path | None = None,
                 verbose: bool = True) -> Prepared:
    """As training.prepare.prepare, with the training set built on the Dask cluster."""
    client = get_client()
    ts, quarantined = load_training_set_dask(data_dir, n_parts=max(2, 2 * n_workers(client)))
    if verbose:
        console.print(f"dask: {len(ts.frame):,} courses featured in partitions; "
                      f"{quarantined:,} rows quarantined (`make validate` lists them)")
    return prepare_from_set(ts, seed=seed)


def _dmatrix(client, X: np.ndarray, y: np.ndarray, w: np.ndarray, parts: int):
    import dask.array as da
    import xgboost.dask as dxgb

    rows = max(1, -(-len(X) // parts))
    return dxgb.DaskDMatrix(client, da.from_array(X, chunks=(rows, X.shape[1])),
                            label=da.from_array(y.astype(np.float64), chunks=rows),
                            weight=da.from_array(w, chunks=rows), missing=np.nan,
                            feature_names=list(FEATURE_NAMES))


def fit_model_dask(X_train: np.ndarray, y_train: np.ndarray, w_train: np.ndarray,
                   X_valid: np.ndarray, y_valid: np.ndarray, w_valid: np.ndarray, *,
                   params: FitParams, seed: int) -> FittedModel:
    """As training.fit.fit_model (same parameters, early stopping, slicing, Platt), on Dask."""
    import xgboost as xgb
    import xgboost.dask as dxgb

    client = get_client()
    parts = n_workers(client)
    dtrain = _dmatrix(client, X_train, y_train, w_train, parts)
    dvalid = _dmatrix(client, X_valid, y_valid, w_valid, parts)
    xgb_params = {**params.xgb_params(seed), "nthread": 1}  # one thread per worker process
    out = dxgb.train(client, xgb_params, dtrain, num_boost_round=params.num_boost_round,
                     evals=[(dtrain, "train"), (dvalid, "valid")],
                     early_stopping_rounds=params.early_stopping_rounds, verbose_eval=False)
    booster: xgb.Booster = out["booster"]
    best = int(booster.best_iteration)
    booster = booster[: best + 1]  # predict would otherwise use the trees after the best round
    booster.set_param({"nthread": params.nthread})
    names = list(FEATURE_NAMES)
    margin = booster.predict(xgb.DMatrix(X_valid, missing=np.nan, feature_names=names),
                             output_margin=True)
    calibrator = PlattCalibrator.fit(margin, y_valid, w_valid)
    return FittedModel(booster, calibrator, best, out.get("history", {}))
