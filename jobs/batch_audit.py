"""Audit events for a scored chunk: the same PredictionEvent `/score` writes, per course."""

from __future__ import annotations

import math

from audit import AuditStore, PredictionEvent, StoredPrediction
from features.spec import FEATURE_NAMES
from jobs.batch_scoring import ScoredChunk
from riskmodel.predictor import RiskModel

BATCH_ENDPOINT = "score-batch"


def chunk_events(store: AuditStore, model: RiskModel, chunk: ScoredChunk, *, job_id: str,
                 caller_sub: str, caller_role: str, latency_ms: float) -> list[PredictionEvent]:
    """One validated event per course; identifiers only as keyed surrogates."""
    a = model.artifact
    thresholds = {"moderate_from": a.bands.moderate_from, "high_from": a.bands.high_from}
    surrogates = store.surrogates  # one key ring for the whole chunk
    e = chunk.explained
    # tolist() once per array: per-element numpy scalars cost more than the event itself
    matrix = chunk.features.matrix.tolist()
    contributions = e.contributions.tolist()
    probability, base, bands = e.probability.tolist(), e.base_log_odds.tolist(), chunk.bands
    events = []
    for i, course_id in enumerate(chunk.features.course_ids):
        events.append(PredictionEvent(
            request_id=job_id, caller_sub=caller_sub, caller_role=caller_role,
            endpoint=BATCH_ENDPOINT, patient_ref=surrogates.patient(chunk.patient_ids[i]),
            course_ref=surrogates.course(course_id), model_name=a.name,
            model_version=a.version, model_sha256=a.sha256,
            features={n: (None if math.isnan(v) else v)
                      for n, v in zip(FEATURE_NAMES, matrix[i], strict=True)},
            probability=probability[i], risk_band=bands[i], thresholds=thresholds,
            shap_values=dict(zip(FEATURE_NAMES, contributions[i], strict=True)),
            shap_base=base[i], latency_ms=latency_ms,
        ))
    return events


def audit_chunk(store: AuditStore, model: RiskModel, chunk: ScoredChunk, *, job_id: str,
                caller_sub: str, caller_role: str, latency_ms: float) -> list[StoredPrediction]:
    """Build, chain and commit the audit rows of one scored chunk (what the job does per
    chunk, and what bench.audit_store.measure times)."""
    return store.append_many(chunk_events(store, model, chunk, job_id=job_id,
                                          caller_sub=caller_sub, caller_role=caller_role,
                                          latency_ms=latency_ms))
