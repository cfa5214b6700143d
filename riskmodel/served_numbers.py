"""The parts of a version that give each served number its meaning (issue 12), loaded together.

All optional: a version exported before them serves without them (and says its training
data is "unknown", which keeps the not-for-patient-care warning on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from riskmodel.bands import BandFacts, load_band_facts
from riskmodel.calibration_interval import CalibrationInterval
from riskmodel.ood import MahalanobisCheck
from riskmodel.risk_curve import RiskCurve

TRAINING_INFO_FILE = "training_info.json"
NOT_FOR_CARE = ("Trained on synthetic data: this score is a demonstration and is not for "
                "patient care.")
UNVALIDATED = ("The training data of this model version is not recorded: this score is not "
               "for patient care.")


@dataclass(frozen=True)
class ServedNumbers:
    calibration: CalibrationInterval | None
    curve: RiskCurve | None
    ood: MahalanobisCheck | None
    bands: dict[str, BandFacts] | None
    training_data: str  # "synthetic" | "records" | "unknown"

    @property
    def care_warning(self) -> str | None:
        """Served in every answer while the model was not trained on real records."""
        if self.training_data == "records":
            return None
        return NOT_FOR_CARE if self.training_data == "synthetic" else UNVALIDATED


def training_data_of(path: Path) -> str:
    info = path / TRAINING_INFO_FILE
    if not info.exists():
        return "unknown"
    return str(json.loads(info.read_text()).get("training_data", "unknown"))


def load_served_numbers(path: Path) -> ServedNumbers:
    """Load after `load_artifact(path)` has verified the manifest."""
    return ServedNumbers(
        CalibrationInterval.load(path) if CalibrationInterval.exists(path) else None,
        RiskCurve.load(path) if RiskCurve.exists(path) else None,
        MahalanobisCheck.load(path) if MahalanobisCheck.exists(path) else None,
        load_band_facts(path), training_data_of(path))
