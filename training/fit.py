"""XGBoost with early stopping on the validation part, then Platt calibration on it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xgboost as xgb

from features.spec import FEATURE_NAMES
from riskmodel.calibration import PlattCalibrator
from training.monotone import monotone_constraints


@dataclass(frozen=True)
class FitParams:
    max_depth: int = 3
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    num_boost_round: int = 2000
    early_stopping_rounds: int = 50
    nthread: int = 2
    monotone: bool = True  # clinically settled directions (training/monotone.py)

    def xgb_params(self, seed: int) -> dict:
        extra = {"monotone_constraints": monotone_constraints()} if self.monotone else {}
        return {**extra,
            "objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist",
            "max_depth": self.max_depth, "eta": self.learning_rate, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda, "nthread": self.nthread, "seed": seed,
        }


@dataclass(frozen=True)
class FittedModel:
    booster: xgb.Booster  # sliced to the best iteration
    calibrator: PlattCalibrator
    best_iteration: int
    history: dict = field(default_factory=dict)


def fit_model(X_train: np.ndarray, y_train: np.ndarray, w_train: np.ndarray,
              X_valid: np.ndarray, y_valid: np.ndarray, w_valid: np.ndarray, *,
              params: FitParams, seed: int) -> FittedModel:
    names = list(FEATURE_NAMES)
    dtrain = xgb.DMatrix(X_train, label=y_train, weight=w_train, feature_names=names, missing=np.nan)
    dvalid = xgb.DMatrix(X_valid, label=y_valid, weight=w_valid, feature_names=names, missing=np.nan)
    history: dict = {}
    booster = xgb.train(params.xgb_params(seed), dtrain, num_boost_round=params.num_boost_round,
                        evals=[(dtrain, "train"), (dvalid, "valid")],
                        early_stopping_rounds=params.early_stopping_rounds, evals_result=history,
                        verbose_eval=False)
    best = int(booster.best_iteration)
    # Slicing drops the trees after the best round: predict would otherwise use them all.
    booster = booster[: best + 1]
    margin = booster.predict(dvalid, output_margin=True)
    calibrator = PlattCalibrator.fit(margin, y_valid, w_valid)
    return FittedModel(booster, calibrator, best, history)
