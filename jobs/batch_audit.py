"""Audit rows of a scored chunk: the prediction rows `/score` writes, built for all its courses
at once (audit.prediction_rows)."""

from __future__ import annotations

from audit import AuditStore, PredictionColumns
from audit.rows import Written
from features.spec import FEATURE_NAMES
from jobs.batch_scoring import ScoredChunk
from riskmodel.predictor import RiskModel

BATCH_ENDPOINT = "score-batch"


def chunk_rows(store: AuditStore, model: RiskModel, chunk: ScoredChunk, *, job_id: str,
               caller_sub: str, caller_role: str, latency_ms: float) -> PredictionColumns:
    """One prediction row per course; identifiers only as keyed surrogates."""
    a = model.artifact
    surrogates = store.surrogates  # one key ring for the whole chunk
    e = chunk.explained
    return PredictionColumns.from_scores(
        feature_names=FEATURE_NAMES, features=chunk.features.matrix,
        contributions=e.contributions, probability=e.probability, shap_base=e.base_log_odds,
        risk_band=chunk.bands.tolist(), patient_refs=surrogates.patients(chunk.patient_ids),
        course_refs=surrogates.courses(chunk.features.course_ids),
        thresholds={"moderate_from": a.bands.moderate_from, "high_from": a.bands.high_from},
        latency_ms=latency_ms, request_id=job_id, caller_sub=caller_sub,
        caller_role=caller_role, endpoint=BATCH_ENDPOINT, model_name=a.name,
        model_version=a.version, model_sha256=a.sha256)


def audit_chunk(store: AuditStore, model: RiskModel, chunk: ScoredChunk, *, job_id: str,
                caller_sub: str, caller_role: str, latency_ms: float) -> Written:
    """Build, chain and commit the audit rows of one scored chunk (what the job does per
    chunk, and what bench.audit_store.measure times)."""
    return store.append_rows(chunk_rows(store, model, chunk, job_id=job_id,
                                        caller_sub=caller_sub, caller_role=caller_role,
                                        latency_ms=latency_ms))
