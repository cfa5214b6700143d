"""Fit and check the anchored relapse-risk curve (riskmodel/risk_curve.py).

Labels at an earlier horizon t: relapse seen by day t is 1, follow-up past day t without
one is 0, loss before t without one is unknown and weighted out by IPCW with a censoring
model at horizon t (the same pooled logistic model as the 180-day label, fitted on the
training part). The curve is fitted on the validation part, where the served probability
is out of sample, and checked on the test part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from features.fields import HORIZON_DAYS
from riskmodel.calibration import logit
from riskmodel.risk_curve import EARLY_DAYS, RiskCurve


def horizon_labels(time_days: np.ndarray, event: np.ndarray,
                   day: float) -> tuple[np.ndarray, np.ndarray]:
    """(relapsed by `day`, label known at `day`)."""
    y = event & (time_days <= day)
    return y, y | (time_days >= day)


@dataclass(frozen=True)
class HorizonWeights:
    """IPCW at an earlier horizon t from the 180-day censoring model (training/censoring.py):
    a label known at t weighs 1 / G(min(T, t) | x), capped at the training rows' 99th
    percentile, like the 180-day weights."""

    time_days: np.ndarray
    event: np.ndarray
    survival_at: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (rows, days) -> G
    train: np.ndarray

    @classmethod
    def from_prepared(cls, prep) -> HorizonWeights:
        """From the censoring model `prepare` fitted on the train part (never refitted)."""
        ts, split = prep.ts, prep.split
        time_days = ts.frame["time_days"].to_numpy(dtype=float)
        model, Z = prep.censoring, prep.censoring_Z
        return cls(time_days, ts.frame["event_observed"].to_numpy(dtype=bool),
                   lambda rows, days: model.survival(Z.iloc[rows], days), split.train)

    def labels(self, day: float, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y, known = horizon_labels(self.time_days, self.event, day)

        def raw(r: np.ndarray) -> np.ndarray:
            g = self.survival_at(r, np.minimum(self.time_days[r], day))
            return np.where(known[r], 1.0 / np.clip(g, 1e-3, 1.0), 0.0)

        train_w = raw(self.train)
        cap = float(np.quantile(train_w[known[self.train]], 0.99))
        return y[rows], np.minimum(raw(rows), cap)


def fit_risk_curve(p: np.ndarray, weights: HorizonWeights, *, valid: np.ndarray) -> RiskCurve:
    """`p`: served 180-day probabilities of every row; fitted on `valid` rows."""
    z = logit(p[valid])
    coef = {}
    for day in EARLY_DAYS:
        y, w = weights.labels(float(day), valid)
        m = w > 0
        lr = LogisticRegression(C=np.inf, max_iter=1000)
        lr.fit(np.column_stack([z[m], z[m] ** 2]), y[m].astype(int), sample_weight=w[m])
        coef[day] = (float(lr.intercept_[0]), float(lr.coef_[0, 0]), float(lr.coef_[0, 1]))
    return RiskCurve(coef, (float(z.min()), float(z.max())))


def true_risk_at(true_p180: np.ndarray, day: float, family: str) -> np.ndarray:
    """The generator's cumulative risk by `day` (synthetic/followup.py; F(180) = p)."""
    from synthetic.followup import LOGLOGISTIC_SHAPE, WEIBULL_SHAPE

    p = np.clip(true_p180, 1e-6, 1 - 1e-6)
    ratio = day / HORIZON_DAYS
    if family == "loglogistic":
        return 1.0 / (1.0 + (1 - p) / p * ratio ** -LOGLOGISTIC_SHAPE)
    return 1.0 - (1.0 - p) ** (ratio ** WEIBULL_SHAPE)


def curve_calibration(curve: RiskCurve, p: np.ndarray, weights: HorizonWeights, *,
                      test: np.ndarray, true_p180: np.ndarray | None = None,
                      family: str = "weibull", bins: int = 10) -> dict:
    """Per horizon: mean predicted vs IPCW-observed risk overall and in deciles of the
    predicted risk (max and mean absolute gap), and on synthetic data vs the true risk."""
    risks = curve.risks(p[test])
    out: dict = {}
    for j, day in enumerate(curve.days):
        y, w = weights.labels(float(day), test)
        r = risks[:, j]
        edges = np.quantile(r, np.linspace(0, 1, bins + 1))
        b = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, bins - 1)
        gaps, gaps_true = [], []
        truth = None if true_p180 is None else true_risk_at(true_p180[test], float(day), family)
        for k in range(bins):
            m = b == k
            if w[m].sum() > 0:
                gaps.append(abs(np.average(y[m], weights=w[m]) - r[m].mean()))
            if truth is not None and m.any():
                gaps_true.append(abs(truth[m].mean() - r[m].mean()))
        d = {"mean_predicted": float(r.mean()),
             "observed_ipcw": float(np.average(y, weights=w)),
             "decile_max_abs_gap_observed": float(max(gaps)),
             "decile_mean_abs_gap_observed": float(np.mean(gaps))}
        if truth is not None:
            d |= {"mean_true": float(truth.mean()),
                  "decile_max_abs_gap_true": float(max(gaps_true)),
                  "mean_abs_error_true": float(np.mean(np.abs(r - truth)))}
        out[str(day)] = d
    out["family"] = family if true_p180 is not None else None
    return out
