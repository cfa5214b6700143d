"""Audit rows for served predictions: one per course, written before the answer.

Built as the batch job builds a chunk's (audit.prediction_rows): one request's courses
at once, whether one or many.
"""

from __future__ import annotations

from audit import AuditStore, PredictionColumns
from features.requests import CourseRecord
from features.spec import FEATURE_NAMES
from riskmodel.predictor import RiskModel
from serving.scoring import Scored


def prediction_events(store: AuditStore, model: RiskModel, courses: list[CourseRecord],
                      scored: Scored, *, request_id: str, caller_sub: str, caller_role: str,
                      endpoint: str, latency_ms: float) -> PredictionColumns:
    """The audit record of each prediction: surrogates only, never the raw identifiers."""
    a = model.artifact
    surrogates = store.surrogates
    e = scored.explained
    return PredictionColumns.from_scores(
        feature_names=FEATURE_NAMES, features=scored.features.matrix,
        contributions=e.contributions, probability=e.probability, shap_base=e.base_log_odds,
        risk_band=scored.bands,
        patient_refs=surrogates.patients([c.intake.patient_id for c in courses]),
        course_refs=surrogates.courses([c.intake.course_id for c in courses]),
        thresholds={"moderate_from": a.bands.moderate_from, "high_from": a.bands.high_from},
        latency_ms=latency_ms, request_id=request_id, caller_sub=caller_sub,
        caller_role=caller_role, endpoint=endpoint, model_name=a.name,
        model_version=a.version, model_sha256=a.sha256)
