"""Replay: recompute a stored prediction from its feature vector with its own model version.

The version is loaded from models/<version>/ through `RiskModel.load`, which
recomputes every checksum; the artifact sha256 must also equal the one the
event recorded, so a replay cannot silently use different bytes.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audit import StoredPrediction
from features.spec import FEATURE_NAMES
from riskmodel.artifact import ArtifactError
from riskmodel.predictor import RiskModel

# Float tolerance: the same booster on the same inputs is deterministic, but
# TreeSHAP sums may differ in the last bits across thread counts.
TOLERANCE = 1e-9


@dataclass
class ReplayResult:
    event_id: str
    model_version: str
    matches: bool
    reason: str | None = None
    stored_probability: float | None = None
    replayed_probability: float | None = None
    probability_diff: float | None = None
    risk_band_matches: bool | None = None
    base_diff: float | None = None
    max_shap_diff: float | None = None
    mismatched_features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ModelCache:
    """A few verified model versions kept loaded (replays cluster on recent versions)."""

    def __init__(self, models_dir: Path, size: int = 4) -> None:
        self.models_dir = Path(models_dir)
        self.size = size
        self._models: OrderedDict[str, RiskModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: str) -> RiskModel:
        if not version or "/" in version or version.startswith("."):
            raise ArtifactError("invalid model version name")
        with self._lock:
            if version in self._models:
                self._models.move_to_end(version)
                return self._models[version]
        path = self.models_dir / version
        if not path.is_dir():
            raise ArtifactError(f"model version {version} is not under {self.models_dir.name}/")
        model = RiskModel.load(path)  # verifies every file's checksum
        with self._lock:
            self._models[version] = model
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model


def _vector(features: dict[str, Any]) -> np.ndarray:
    missing = [n for n in FEATURE_NAMES if n not in features]
    if missing:
        raise ValueError(f"stored feature vector lacks {len(missing)} model features")
    return np.array([[np.nan if features[n] is None else float(features[n])
                      for n in FEATURE_NAMES]], dtype=np.float64)


def replay_event(event: StoredPrediction, models: ModelCache) -> ReplayResult:
    """Recompute probability, band, base value and every SHAP value; compare."""
    result = ReplayResult(event.event_id, event.model_version, matches=False,
                          stored_probability=event.probability)
    try:
        model = models.get(event.model_version)
    except ArtifactError as exc:
        result.reason = f"model version unavailable or altered: {exc}"
        return result
    if model.artifact.sha256 != event.model_sha256:
        result.reason = "artifact sha256 differs from the one recorded with the event"
        return result
    try:
        x = _vector(event.features)
    except (ValueError, TypeError) as exc:
        result.reason = str(exc)
        return result
    e = model.explain(x)
    p = float(e.probability[0])
    result.replayed_probability = p
    result.probability_diff = abs(p - event.probability)
    result.risk_band_matches = model.band(e.probability)[0] == event.risk_band
    result.base_diff = abs(float(e.base_log_odds[0]) - event.shap_base)
    diffs = {n: abs(float(v) - event.shap_values.get(n, math.inf))
             for n, v in zip(FEATURE_NAMES, e.contributions[0], strict=True)}
    result.max_shap_diff = max(diffs.values())
    result.mismatched_features = [n for n, d in diffs.items() if not d <= TOLERANCE]
    result.matches = (result.probability_diff <= TOLERANCE and result.risk_band_matches
                      and result.base_diff <= TOLERANCE and not result.mismatched_features)
    if not result.matches:
        result.reason = "recomputed values differ from the stored ones"
    return result
