"""Audit events for served predictions: one per course, written before the answer."""

from __future__ import annotations

from audit import AuditStore, PredictionEvent
from features.requests import CourseRecord
from features.spec import FEATURE_NAMES
from riskmodel.predictor import RiskModel
from serving.scoring import Scored


def prediction_events(store: AuditStore, model: RiskModel, courses: list[CourseRecord],
                      scored: Scored, *, request_id: str, caller_sub: str, caller_role: str,
                      endpoint: str, latency_ms: float) -> list[PredictionEvent]:
    """The audit record of each prediction: surrogates only, never the raw identifiers."""
    a = model.artifact
    thresholds = {"moderate_from": a.bands.moderate_from, "high_from": a.bands.high_from}
    e = scored.explained
    # tolist() gives the same Python floats as float(x), without a numpy scalar per value.
    values, contributions = scored.features.matrix.tolist(), e.contributions.tolist()
    events = []
    for i, course in enumerate(courses):
        events.append(PredictionEvent(
            request_id=request_id, caller_sub=caller_sub, caller_role=caller_role,
            endpoint=endpoint, patient_ref=store.patient_ref(course.intake.patient_id),
            course_ref=store.course_ref(course.intake.course_id), model_name=a.name,
            model_version=a.version, model_sha256=a.sha256,
            features={n: None if v != v else v  # NaN (missing) -> None
                      for n, v in zip(FEATURE_NAMES, values[i], strict=True)},
            probability=float(e.probability[i]), risk_band=scored.bands[i], thresholds=thresholds,
            shap_values=dict(zip(FEATURE_NAMES, contributions[i], strict=True)),
            shap_base=float(e.base_log_odds[i]), latency_ms=latency_ms,
        ))
    return events
