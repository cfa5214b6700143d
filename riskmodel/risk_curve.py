"""The relapse-risk curve, anchored to the one served 180-day probability.

Per earlier horizon t (30 and 90 days): logit P(relapse by t) = a_t + b_t * z + c_t * z^2,
z = logit(p) clipped to the fitted range, p the served calibrated 180-day probability. The
180-day point is p itself, so the curve can never state a second 180-day risk; the curve is
made monotone in time by capping each horizon at the next (30 <= 90 <= 180).

Why not the survival model's Weibull shape: it fixes log(-log(1 - F)) linear in log t, the
generator's default family; under log-logistic relapse times (python -m synthetic
--relapse-time loglogistic) that shape misstates the 30-day risk by several points. A
quadratic in logit(p) fits both families closely (docs/validation.md "Risk curve").
365 days is not served: planned follow-up ends at 365 +- 14 days, so about half the
courses are censored before it and no check at 365 days is possible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.fields import HORIZON_DAYS
from riskmodel.calibration import logit, sigmoid

RISK_CURVE_FILE = "risk_curve.json"
EARLY_DAYS = (30, 90)


@dataclass(frozen=True)
class RiskCurve:
    coefficients: dict[int, tuple[float, float, float]]  # day -> (a, b, c)
    z_range: tuple[float, float]  # logit(p) range seen when fitting

    @property
    def days(self) -> tuple[int, ...]:
        return (*sorted(self.coefficients), HORIZON_DAYS)

    def risks(self, p: np.ndarray) -> np.ndarray:
        """(rows, horizons) cumulative risk; the last column is p exactly."""
        p = np.asarray(p, dtype=np.float64)
        z = np.clip(logit(p), *self.z_range)
        cols = [p]
        for day in sorted(self.coefficients, reverse=True):  # 90, then 30: cap at the next
            a, b, c = self.coefficients[day]
            cols.append(np.minimum(sigmoid(a + b * z + c * z * z), cols[-1]))
        return np.column_stack(cols[::-1])

    def curves(self, p: np.ndarray) -> list[dict[str, float]]:
        # tolist(): the same Python floats as float(r), without a numpy scalar per value
        keys = [str(d) for d in self.days]
        return [dict(zip(keys, row, strict=True)) for row in self.risks(p).tolist()]

    def to_json(self) -> str:
        return json.dumps({"method": "logit-quadratic in logit(p180) per horizon, anchored",
                           "coefficients": {str(d): list(c) for d, c in self.coefficients.items()},
                           "z_range": list(self.z_range)}, indent=2) + "\n"

    @classmethod
    def exists(cls, path: Path) -> bool:
        return (path / RISK_CURVE_FILE).exists()

    @classmethod
    def load(cls, path: Path) -> RiskCurve:
        d = json.loads((path / RISK_CURVE_FILE).read_text())
        coef = {int(k): (float(v[0]), float(v[1]), float(v[2]))
                for k, v in d["coefficients"].items()}
        return cls(coef, (float(d["z_range"][0]), float(d["z_range"][1])))
