"""A confidence interval for the calibration curve at the served probability.

Served as `calibration_interval`: with 95 % confidence, among courses given this
probability the relapse rate within 180 days lies between low and high. It is an interval
for a group's rate (the calibration curve E[relapse | served probability]), not for one
patient's own risk.

Fitted on the validation ("calibration") part: an IPCW-weighted logistic regression of the
outcome on a cubic spline in the served log-odds (a flexible calibration curve, Van Calster
et al. 2016), with a percentile interval over patient-level bootstrap resamples of that part.
Censoring makes it approximate (the IPCW weights are estimated and held fixed).

Why not the Venn-Abers pair served before (docs/validation.md, "Calibration interval"): its
isotonic steps, fitted on ~3,000 labelled validation courses, were 0.02-0.07 off the true rate
mid-range while its width was ~0.01, so it promised a precision the calibration part cannot
give, and it was less calibrated than the Platt probability it wrapped.

Tabulated at fit time on a grid of served probabilities; serving is one `np.interp`.
Outside the calibration part's range of probabilities the edge's interval is served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.preprocessing import SplineTransformer

from riskmodel.calibration import logit, sigmoid

CALIBRATION_INTERVAL_FILE = "calibration_interval.json"
LEVEL = 0.95
BOOTSTRAPS = 200
GRID_POINTS = 101
SPLINE_KNOTS = 4  # cubic: 6 basis functions, enough for a smooth miscalibration, few to fit


@dataclass(frozen=True)
class CalibrationInterval:
    grid: np.ndarray  # (GRID_POINTS,) served probabilities, ascending
    low: np.ndarray
    high: np.ndarray
    level: float
    n_courses: int  # labelled calibration courses it was fitted on

    @classmethod
    def fit(cls, p: np.ndarray, y: np.ndarray, weights: np.ndarray, patients: np.ndarray, *,
            seed: int, level: float = LEVEL, bootstraps: int = BOOTSTRAPS) -> CalibrationInterval:
        """`p`: served probabilities of the calibration part; `weights`: IPCW (0 = censored);
        `patients`: resampled as units, since a patient's courses are not independent."""
        keep = weights > 0
        x = logit(np.clip(p[keep], 1e-6, 1 - 1e-6)).reshape(-1, 1)
        yy, w = y[keep].astype(int), weights[keep].astype(np.float64)
        basis = SplineTransformer(n_knots=SPLINE_KNOTS, degree=3, knots="quantile",
                                  extrapolation="linear").fit(x)
        B = basis.transform(x)
        grid_x = np.linspace(x.min(), x.max(), GRID_POINTS)
        B_grid = basis.transform(grid_x.reshape(-1, 1))
        _, who = np.unique(patients[keep], return_inverse=True)
        n_patients = int(who.max()) + 1
        rng = np.random.default_rng(seed)
        # A resample of patients is a weight per course: its patient's draw count.
        draws = np.stack([np.bincount(rng.integers(0, n_patients, n_patients),
                                      minlength=n_patients) for _ in range(bootstraps)])
        curves = sigmoid(weighted_logistic(B, yy, w * draws[:, who]) @ B_grid.T)
        tail = (1 - level) / 2
        low, high = np.quantile(curves, [tail, 1 - tail], axis=0)
        return cls(sigmoid(grid_x), low, high, level, int(keep.sum()))

    def bounds(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.asarray(p, dtype=np.float64)
        return np.interp(p, self.grid, self.low), np.interp(p, self.grid, self.high)

    def to_json(self) -> str:
        return json.dumps({
            "method": "IPCW-weighted logistic calibration curve on a cubic spline of the served "
                      "log-odds, patient bootstrap percentile interval, validation part",
            "level": self.level, "n_courses": self.n_courses, "grid": self.grid.tolist(),
            "low": self.low.tolist(), "high": self.high.tolist()}) + "\n"

    @classmethod
    def exists(cls, path: Path) -> bool:
        return (path / CALIBRATION_INTERVAL_FILE).exists()

    @classmethod
    def load(cls, path: Path) -> CalibrationInterval:
        d = json.loads((path / CALIBRATION_INTERVAL_FILE).read_text())
        return cls(np.asarray(d["grid"]), np.asarray(d["low"]), np.asarray(d["high"]),
                   float(d["level"]), int(d["n_courses"]))


def weighted_logistic(X: np.ndarray, y: np.ndarray, W: np.ndarray, *, iterations: int = 50,
                      tol: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood logistic coefficients (no intercept, no penalty) for each row of
    sample weights `W` (r, n) at once: (r, k). Newton's method on all resamples together,
    written here because scikit-learn fits one weight vector per call and 200 calls cost
    seconds a version (~30x this, measured); tests check it against LogisticRegression."""
    beta = np.zeros((W.shape[0], X.shape[1]))
    ridge = 1e-9 * np.eye(X.shape[1])  # keeps a resample without some spline's rows solvable
    for _ in range(iterations):
        mu = sigmoid(beta @ X.T)
        hess = np.einsum("rn,nk,nl->rkl", W * mu * (1 - mu), X, X, optimize=True) + ridge
        step = np.linalg.solve(hess, ((W * (y - mu)) @ X)[:, :, None])[:, :, 0]
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    return beta
