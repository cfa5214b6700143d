"""Platt scaling in log-odds: calibrated log-odds = a * margin + b.

Affine on purpose: SHAP values scale by `a` and the base value maps to
a * base + b, so explanations still add up to the served probability
(DESIGN.md). Isotonic calibration would break that identity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class PlattCalibrator:
    a: float = 1.0
    b: float = 0.0

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> PlattCalibrator:
        model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000)
        model.fit(margin.reshape(-1, 1), y.astype(int), sample_weight=weight)
        return cls(a=float(model.coef_[0, 0]), b=float(model.intercept_[0]))

    def log_odds(self, margin: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(margin, dtype=np.float64) + self.b

    def to_dict(self) -> dict:
        return {"method": "platt", **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> PlattCalibrator:
        if d.get("method") != "platt":
            raise ValueError("only affine (Platt) calibration can be served")
        return cls(a=float(d["a"]), b=float(d["b"]))


def sigmoid(x: np.ndarray) -> np.ndarray:
    # scipy's expit: the same values as 1 / (1 + exp(-x)), without numpy's overflow warning
    # for x below about -709 (a training fit straying far).
    return expit(x)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))
