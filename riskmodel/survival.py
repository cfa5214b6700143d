"""Time to relapse from an XGBoost `survival:aft` booster: absolute risk by day t.

With aft_loss_distribution `extreme` the log relapse time is mu + sigma * Z, Z Gumbel
(minimum), i.e. a Weibull time with shape 1 / sigma; so
    risk(t) = P(T <= t) = 1 - exp(-exp((ln t - mu) / sigma)),
mu being the booster's margin. Serving can call `SurvivalModel.load(dir).risk_curve(X)`
for the optional `relapse_risk_curve`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xgboost as xgb

from riskmodel.margins import MarginEvaluator

SURVIVAL_BOOSTER_FILE = "survival_aft.ubj"
SURVIVAL_META_FILE = "survival_aft.json"
CURVE_DAYS = (30, 90, 180, 365)


@dataclass(frozen=True)
class SurvivalModel:
    booster: xgb.Booster
    sigma: float
    distribution: str = "extreme"
    days: tuple[int, ...] = CURVE_DAYS
    # Set by `load` (serving): the margin without XGBoost's per-call cost, bit-identical.
    evaluator: MarginEvaluator | None = field(default=None, repr=False, compare=False)

    def mu(self, X: np.ndarray) -> np.ndarray:
        if self.evaluator is not None:
            return self.evaluator.margins(X)[:, 0].astype(np.float64)
        return self.booster.inplace_predict(X, predict_type="margin", missing=np.nan).astype(
            np.float64)

    def _risk(self, mu: np.ndarray, days: float | np.ndarray) -> np.ndarray:
        z = (np.log(np.asarray(days, dtype=np.float64)) - mu) / self.sigma
        if self.distribution != "extreme":
            raise ValueError("only the extreme-value (Weibull) AFT is supported")
        return 1.0 - np.exp(-np.exp(np.clip(z, -50, 50)))

    def risk_at(self, X: np.ndarray, days: float | np.ndarray) -> np.ndarray:
        """P(relapse by `days` after course end); `days` scalar or one per row."""
        return self._risk(self.mu(X), days)

    def risk_curve(self, X: np.ndarray) -> list[dict[str, float]]:
        """Per row: {"30": risk, "90": ..., ...} for the supported horizons."""
        days = np.asarray(self.days, dtype=np.float64)
        risks = self._risk(self.mu(X)[:, None], days[None, :])  # (rows, horizons), one pass
        return [{str(d): float(r) for d, r in zip(self.days, row, strict=True)} for row in risks]

    def save(self, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(out_dir / SURVIVAL_BOOSTER_FILE)
        meta = {"sigma": self.sigma, "distribution": self.distribution, "days": list(self.days)}
        (out_dir / SURVIVAL_META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return [out_dir / SURVIVAL_BOOSTER_FILE, out_dir / SURVIVAL_META_FILE]

    @classmethod
    def exists(cls, path: Path) -> bool:
        return (path / SURVIVAL_META_FILE).exists()

    @classmethod
    def load(cls, path: Path) -> SurvivalModel:
        booster = xgb.Booster()
        booster.load_model(path / SURVIVAL_BOOSTER_FILE)
        meta = json.loads((path / SURVIVAL_META_FILE).read_text())
        return cls(booster, float(meta["sigma"]), meta["distribution"], tuple(meta["days"]),
                   MarginEvaluator([booster]))
