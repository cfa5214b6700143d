"""The audit rows of scored courses, one per course: what /score and the batch job write.

One mapping from a model's explained predictions to the prediction chain's columns
(audit.prediction_rows), whatever the courses came in as (a request or a chunk).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audit import AuditStore, PredictionColumns
from features.spec import FEATURE_NAMES
from riskmodel.predictor import Explained, RiskModel


def prediction_rows(store: AuditStore, model: RiskModel, features: np.ndarray,
                    explained: Explained, bands: Sequence[str], *,
                    patient_ids: Sequence[str], course_ids: Sequence[str], request_id: str,
                    caller_sub: str, caller_role: str, endpoint: str,
                    latency_ms: float) -> PredictionColumns:
    """The rows of n scored courses (`features` n x FEATURE_NAMES, as explained): the
    identifiers only as the store's keyed surrogates, never raw."""
    a = model.artifact
    surrogates = store.surrogates  # one key ring for all rows
    return PredictionColumns.from_scores(
        feature_names=FEATURE_NAMES, features=features,
        contributions=explained.contributions, probability=explained.probability,
        shap_base=explained.base_log_odds, risk_band=bands,
        patient_refs=surrogates.patients(patient_ids),
        course_refs=surrogates.courses(course_ids),
        thresholds={"moderate_from": a.bands.moderate_from, "high_from": a.bands.high_from},
        latency_ms=latency_ms, request_id=request_id, caller_sub=caller_sub,
        caller_role=caller_role, endpoint=endpoint, model_name=a.name,
        model_version=a.version, model_sha256=a.sha256)
