"""Calibrated probabilities with explanations that add up, next to predict.

For each course: p = sigmoid(a * margin + b), SHAP values scaled by `a`, base
value a * bias + b; so base + sum(contributions) = logit(p) exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.spec import FEATURE_LABELS, FEATURE_NAMES
from riskmodel.artifact import Artifact, RiskBand, load_artifact
from riskmodel.calibration import sigmoid
from riskmodel.explain import make_explainer
from riskmodel.extras import load_extras
from riskmodel.factors import TOP_FACTORS, TopFactors, row_offsets, top_factors_of
from riskmodel.served_numbers import load_served_numbers


@dataclass(frozen=True)
class Factor:
    feature: str
    label: str
    value: float | None
    shap_log_odds: float
    direction: str  # raises | lowers
    course_exposure: bool  # a treatment received in the course: described, never advised


@dataclass(frozen=True)
class InputWarning:
    kind: str  # missing | outside_training_range | unlike_training_courses
    feature: str | None  # None for the whole-course (multivariate) check
    message: str


# Each kind of input warning, in the order a course lists them, and its one message.
WARNING_KINDS = ("missing", "outside_training_range", "unlike_training_courses")
WARNING_MESSAGES = (
    "not recorded: the model used what a missing value meant in training",
    "outside the range seen in training: the model is guessing",
    "this combination of values is unlike the training courses (Mahalanobis distance beyond "
    "the training part's 99.5th percentile): the estimate may not apply",
)
WHOLE_COURSE = -1  # the column of a warning about the whole course, not one input


@dataclass(frozen=True)
class InputWarnings:
    """Every row's input warnings, column-wise: row i's are entries offsets[i]:offsets[i + 1],
    its missing inputs first, then its inputs outside the training range (each in feature
    order), then the whole-course check."""

    rows: np.ndarray  # (m,) int
    kinds: np.ndarray  # (m,) index into WARNING_KINDS
    columns: np.ndarray  # (m,) feature column, WHOLE_COURSE for the multivariate check
    offsets: np.ndarray  # (n + 1,) int


@dataclass(frozen=True)
class Explained:
    probability: np.ndarray  # (n,)
    log_odds: np.ndarray  # (n,) calibrated
    contributions: np.ndarray  # (n, F) calibrated log-odds
    base_log_odds: np.ndarray  # (n,)


class RiskModel:
    """A loaded, checksum-verified model version: predict, explain, band, warn."""

    def __init__(self, artifact: Artifact) -> None:
        self.artifact = artifact
        self.booster = artifact.booster
        self.calibrator = artifact.calibrator
        self.bands = artifact.bands
        self.explainer = make_explainer(self.booster)
        # Survival curve and bootstrap intervals, when the version has them (checksummed too).
        self.extras = load_extras(artifact.path)
        # Calibration interval, anchored curve, OOD check, band facts, training data (issue 12).
        self.served = load_served_numbers(artifact.path)
        ranges = artifact.training_ranges
        self._lo = np.array([np.nan if ranges[n][0] is None else ranges[n][0] for n in FEATURE_NAMES])
        self._hi = np.array([np.nan if ranges[n][1] is None else ranges[n][1] for n in FEATURE_NAMES])

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        return cls(load_artifact(path))

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster.inplace_predict(matrix, predict_type="margin", missing=np.nan).astype(
            np.float64)

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        return sigmoid(self.calibrator.log_odds(self.margin(matrix)))

    def explain(self, matrix: np.ndarray) -> Explained:
        raw = self.explainer.shap_values(matrix)
        a, b = self.calibrator.a, self.calibrator.b
        contributions = a * raw[:, :-1]
        base = a * raw[:, -1] + b
        log_odds = base + contributions.sum(axis=1)
        return Explained(sigmoid(log_odds), log_odds, contributions, base)

    def band(self, probability: np.ndarray) -> list[RiskBand]:
        return self.bands.of(probability).tolist()

    @staticmethod
    def top_factors(values: np.ndarray, contributions: np.ndarray, k: int = TOP_FACTORS) -> list[Factor]:
        """One course's top factors (`top_factors_of` on a batch of one)."""
        top: TopFactors = top_factors_of(values[np.newaxis, :], contributions[np.newaxis, :], k)
        return [
            Factor(FEATURE_NAMES[j], FEATURE_LABELS[FEATURE_NAMES[j]],
                   None if np.isnan(v) else float(v), float(c), "raises" if up else "lowers",
                   bool(exposure))
            for j, v, c, up, exposure in zip(top.columns, top.values, top.shap, top.raises,
                                             top.course_exposure, strict=True)
        ]

    def unlike_training(self, matrix: np.ndarray) -> np.ndarray:
        """Per course: True when the combination of values is unlike the training part's."""
        ood = self.served.ood
        return np.zeros(len(matrix), dtype=bool) if ood is None else ood.flags(matrix)

    def input_warnings_of(self, matrix: np.ndarray, unlike_training: np.ndarray
                          ) -> InputWarnings:
        """Missing inputs, inputs outside the training range and an unusual combination, for
        every row of an (n, F) matrix at once."""
        n, width = matrix.shape
        # Row-major nonzero over [missing | outside | unlike] is each row's listing order.
        flags = np.empty((n, 2 * width + 1), dtype=bool)
        np.isnan(matrix, out=flags[:, :width])
        with np.errstate(invalid="ignore"):
            np.less(matrix, self._lo, out=flags[:, width:-1])
            flags[:, width:-1] |= matrix > self._hi
        flags[:, -1] = unlike_training
        rows, at = np.nonzero(flags)
        kinds = at // width
        columns = np.where(kinds == 2, WHOLE_COURSE, at - kinds * width)
        return InputWarnings(rows, kinds, columns, row_offsets(rows, n))

    def input_warnings(self, row: np.ndarray, unlike_training: bool = False) -> list[InputWarning]:
        """One course's warnings (`input_warnings_of` on a batch of one)."""
        got = self.input_warnings_of(row[np.newaxis, :], np.array([unlike_training]))
        return [InputWarning(WARNING_KINDS[k], None if j == WHOLE_COURSE else FEATURE_NAMES[j],
                             WARNING_MESSAGES[k])
                for k, j in zip(got.kinds.tolist(), got.columns.tolist(), strict=True)]
