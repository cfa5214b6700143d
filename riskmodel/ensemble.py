"""Prediction intervals from a bootstrap ensemble of calibrated boosters.

Each member was trained on a patient-level bootstrap resample of the training part and
Platt-calibrated on the validation part; the interval of a course is the central
`level` range of the members' probabilities. It expresses how much the estimate moves
with the training sample (estimation uncertainty), not the patient's outcome. Serving can
call `BootstrapEnsemble.load(dir).interval(X)` for the optional `interval` (low, high).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xgboost as xgb

from riskmodel.calibration import PlattCalibrator, sigmoid
from riskmodel.margins import MarginEvaluator

ENSEMBLE_META_FILE = "ensemble.json"
MEMBER_FILE = "ensemble_member_{:02d}.ubj"  # flat files: the manifest lists one directory


@dataclass(frozen=True)
class BootstrapEnsemble:
    boosters: tuple[xgb.Booster, ...]
    calibrators: tuple[PlattCalibrator, ...]
    level: float = 0.95
    # Set by `load` (serving): all members' margins in one call, bit-identical to XGBoost.
    evaluator: MarginEvaluator | None = field(default=None, repr=False, compare=False)

    def member_margins(self, X: np.ndarray) -> np.ndarray:
        """(members, rows) float32 margins."""
        if self.evaluator is not None:
            return self.evaluator.margins(X).T
        return np.vstack([b.inplace_predict(X, predict_type="margin", missing=np.nan)
                          for b in self.boosters])

    def member_probabilities(self, X: np.ndarray) -> np.ndarray:
        """(members, rows) calibrated probabilities."""
        margins = self.member_margins(X).astype(np.float64)
        a = np.array([c.a for c in self.calibrators])[:, None]
        b = np.array([c.b for c in self.calibrators])[:, None]
        return sigmoid(a * margins + b)  # each member's PlattCalibrator.log_odds

    def interval(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tail = (1 - self.level) / 2 * 100
        lo, hi = np.percentile(self.member_probabilities(X), [tail, 100 - tail], axis=0)
        return lo, hi

    def save(self, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, b in enumerate(self.boosters):
            b.save_model(out_dir / MEMBER_FILE.format(i))
            paths.append(out_dir / MEMBER_FILE.format(i))
        meta = {"level": self.level, "calibrators": [c.to_dict() for c in self.calibrators]}
        (out_dir / ENSEMBLE_META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return [*paths, out_dir / ENSEMBLE_META_FILE]

    @classmethod
    def exists(cls, out_dir: Path) -> bool:
        return (out_dir / ENSEMBLE_META_FILE).exists()

    @classmethod
    def load(cls, out_dir: Path) -> BootstrapEnsemble:
        meta = json.loads((out_dir / ENSEMBLE_META_FILE).read_text())
        boosters = []
        for i in range(len(meta["calibrators"])):
            b = xgb.Booster()
            b.load_model(out_dir / MEMBER_FILE.format(i))
            boosters.append(b)
        return cls(tuple(boosters), tuple(PlattCalibrator.from_dict(c)
                                          for c in meta["calibrators"]), float(meta["level"]),
                   MarginEvaluator(boosters))
