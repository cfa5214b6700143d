"""Validated courses -> explained predictions, with the same feature code as training."""

from __future__ import annotations

from dataclasses import dataclass

from features.builder import FeatureBatch, build_features
from features.requests import CourseRecord, course_batch_from_requests
from riskmodel.artifact import RiskBand
from riskmodel.predictor import Explained, RiskModel
from serving.schemas import BandObserved, CalibrationInterval, InputWarning, Prediction, TopFactor


@dataclass(frozen=True)
class Scored:
    features: FeatureBatch
    explained: Explained
    bands: list[RiskBand]
    predictions: list[Prediction]


def score_courses(model: RiskModel, courses: list[CourseRecord]) -> Scored:
    features = build_features(course_batch_from_requests(courses))
    explained = model.explain(features.matrix)
    bands = model.band(explained.probability)
    served = model.served
    p = explained.probability
    # The curve is anchored to the served probability: its 180-day value is p itself.
    curves = served.curve.curves(p) if served.curve is not None else None
    cal = served.calibration
    intervals = None
    if cal is not None:
        low, high = cal.bounds(p)
        intervals = [CalibrationInterval(low=float(lo), high=float(hi), level=cal.level,
                                         n_courses=cal.n_courses) for lo, hi in zip(low, high, strict=True)]
    unlike = model.unlike_training(features.matrix)
    facts = served.bands or {}
    band_observed = {name: BandObserved(meaning=f.meaning, observed_relapse_rate=f.observed_rate,
                                        low=f.low, high=f.high, n_courses=f.n_courses)
                     for name, f in facts.items()}
    predictions = []
    for i, course_id in enumerate(features.course_ids):
        row = features.matrix[i]
        factors = model.top_factors(row, explained.contributions[i])
        predictions.append(Prediction(
            course_id=course_id,
            relapse_probability_180d=float(explained.probability[i]),
            risk_band=bands[i],
            top_factors=[TopFactor(**vars(f)) for f in factors],
            base_log_odds=float(explained.base_log_odds[i]),
            input_warnings=[InputWarning(**vars(w))
                            for w in model.input_warnings(row, bool(unlike[i]))],
            calibration_interval=None if intervals is None else intervals[i],
            band_observed=band_observed.get(bands[i]),
            relapse_risk_curve=None if curves is None else curves[i],
        ))
    return Scored(features, explained, bands, predictions)

