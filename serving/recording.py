"""Audit rows for served predictions: one per course, written before the answer.

Built as the batch job builds a chunk's (riskmodel.audit_rows): one request's courses at
once, whether one or many.
"""

from __future__ import annotations

from audit import AuditStore, PredictionColumns
from features.requests import CourseRecord
from riskmodel.audit_rows import prediction_rows
from riskmodel.predictor import RiskModel
from serving.scoring import Scored


def prediction_events(store: AuditStore, model: RiskModel, courses: list[CourseRecord],
                      scored: Scored, *, request_id: str, caller_sub: str, caller_role: str,
                      endpoint: str, latency_ms: float) -> PredictionColumns:
    """The audit record of each prediction: surrogates only, never the raw identifiers."""
    return prediction_rows(
        store, model, scored.features.matrix, scored.explained, scored.bands,
        patient_ids=[c.intake.patient_id for c in courses],
        course_ids=[c.intake.course_id for c in courses], request_id=request_id,
        caller_sub=caller_sub, caller_role=caller_role, endpoint=endpoint,
        latency_ms=latency_ms)
