"""Validated courses -> explained predictions, with the same feature code as training.

Column-wise for any number of courses: one feature batch per request, the top factors and
input warnings of every course picked at once (riskmodel/), and the answer's objects built
by one pydantic validation of plain values (in pydantic-core, not one Python constructor
per object): per course the loop only gathers values. A 100-course request spent most of
its scoring time in per-course Python before (bench/NOTES.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from features.builder import FeatureBatch, build_features
from features.requests import CourseRecord, course_batch_from_requests
from features.spec import FEATURE_LABELS, FEATURE_NAMES
from riskmodel.artifact import RiskBand
from riskmodel.factors import TopFactors, top_factors_of
from riskmodel.predictor import (
    WARNING_KINDS,
    WARNING_MESSAGES,
    WHOLE_COURSE,
    Explained,
    InputWarnings,
    RiskModel,
)
from serving.schemas import BandObserved, Prediction

_NAMES = np.array(FEATURE_NAMES, dtype=object)
_LABELS = np.array([FEATURE_LABELS[n] for n in FEATURE_NAMES], dtype=object)
_DIRECTIONS = np.array(["lowers", "raises"], dtype=object)  # index: contribution > 0
_PREDICTIONS = TypeAdapter(list[Prediction])


@dataclass(frozen=True)
class Scored:
    features: FeatureBatch
    explained: Explained
    bands: list[RiskBand]
    predictions: list[Prediction]

    def part(self, start: int, stop: int) -> Scored:
        """Courses start..stop-1: one request's share of courses scored together."""
        f, e, rows = self.features, self.explained, slice(start, stop)
        return Scored(
            FeatureBatch(f.course_ids[rows], f.matrix[rows], f.course_end_day[rows]),
            Explained(e.probability[rows], e.log_odds[rows], e.contributions[rows],
                      e.base_log_odds[rows]),
            self.bands[rows], self.predictions[rows])


def _per_row(items: list[Any], offsets: np.ndarray) -> list[list[Any]]:
    bounds = offsets.tolist()
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _factor_lists(top: TopFactors) -> list[list[dict[str, Any]]]:
    values = top.values.astype(object)
    values[np.isnan(top.values)] = None  # a missing input is served as null
    items = [{"feature": f, "label": label, "value": v, "shap_log_odds": c, "direction": d,
              "course_exposure": e}
             for f, label, v, c, d, e in zip(
                 _NAMES[top.columns].tolist(), _LABELS[top.columns].tolist(), values.tolist(),
                 top.shap.tolist(), _DIRECTIONS[top.raises.astype(np.intp)].tolist(),
                 top.course_exposure.tolist(), strict=True)]
    return _per_row(items, top.offsets)


def _warning_lists(warnings: InputWarnings) -> list[list[dict[str, Any]]]:
    items = [{"kind": WARNING_KINDS[k], "feature": None if j == WHOLE_COURSE else FEATURE_NAMES[j],
              "message": WARNING_MESSAGES[k]}
             for k, j in zip(warnings.kinds.tolist(), warnings.columns.tolist(), strict=True)]
    return _per_row(items, warnings.offsets)


def score_courses(model: RiskModel, courses: list[CourseRecord]) -> Scored:
    features = build_features(course_batch_from_requests(courses))
    matrix = features.matrix
    explained = model.explain(matrix)
    bands = model.band(explained.probability)
    served = model.served
    p = explained.probability
    n = len(features.course_ids)
    # The curve is anchored to the served probability: its 180-day value is p itself.
    curves: list[Any] = served.curve.curves(p) if served.curve is not None else [None] * n
    cal = served.calibration
    intervals: list[Any] = [None] * n
    if cal is not None:
        low, high = cal.bounds(p)
        intervals = [{"low": lo, "high": hi, "level": cal.level, "n_courses": cal.n_courses}
                     for lo, hi in zip(low.tolist(), high.tolist(), strict=True)]
    facts, present = served.bands or {}, set(bands)
    # One shared object per band that occurs (a one-course request builds one, not three).
    band_observed = {name: BandObserved(meaning=f.meaning, observed_relapse_rate=f.observed_rate,
                                        low=f.low, high=f.high, n_courses=f.n_courses)
                     for name, f in facts.items() if name in present}
    factors = _factor_lists(top_factors_of(matrix, explained.contributions))
    warnings = _warning_lists(model.input_warnings_of(matrix, model.unlike_training(matrix)))
    predictions = _PREDICTIONS.validate_python([
        {"course_id": course_id, "relapse_probability_180d": prob, "risk_band": band,
         "top_factors": factors[i], "base_log_odds": base, "input_warnings": warnings[i],
         "calibration_interval": intervals[i], "band_observed": band_observed.get(band),
         "relapse_risk_curve": curves[i]}
        for i, (course_id, prob, band, base) in enumerate(zip(
            features.course_ids, p.tolist(), bands, explained.base_log_odds.tolist(),
            strict=True))])
    return Scored(features, explained, bands, predictions)
