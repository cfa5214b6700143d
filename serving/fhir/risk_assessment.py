"""A served prediction -> a FHIR R4B RiskAssessment (validated by fhir.resources before it leaves)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.riskassessment import RiskAssessment

from features.fields import HORIZON_DAYS
from serving.fhir.bundle import CourseFromBundle
from serving.fhir.codes import FACTOR_EXT, MODEL_SYSTEM, RISK_PROBABILITY, SECURITY_LABELS
from serving.schemas import FACTOR_NOTE as SCHEMA_FACTOR_NOTE
from serving.schemas import ModelInfo, Prediction

OUTCOME_TEXT = "Relapse to heavy drinking within 180 days after the end of the course"
INTENDED_USE = ("Decision support for clinicians planning aftercare of adults completing "
                "ketamine-assisted therapy for severe alcohol use disorder.")
FACTOR_NOTE = ("Top factors explain the model's estimate (SHAP, log-odds). " + SCHEMA_FACTOR_NOTE)


def _factor_extension(f: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"url": "feature", "valueString": f.feature},
        {"url": "label", "valueString": f.label},
        {"url": "shapLogOdds", "valueDecimal": round(f.shap_log_odds, 6)},
        {"url": "direction", "valueCode": f.direction},
    ]
    if f.value is not None:
        parts.insert(2, {"url": "value", "valueDecimal": round(f.value, 6)})
    return {"url": FACTOR_EXT, "extension": parts}


def rationale(pred: Prediction) -> str:
    factors = "; ".join(f"{f.label} {f.direction} the risk ({f.shap_log_odds:+.2f} log-odds)"
                        for f in pred.top_factors)
    return f"Top factors: {factors}. {FACTOR_NOTE}"


def risk_assessment(course: CourseFromBundle, pred: Prediction, model: ModelInfo,
                    request_id: str, warning: str | None = None) -> dict[str, Any]:
    end = course.course_end
    resource = {
        "resourceType": "RiskAssessment",
        "id": request_id,
        "meta": {"security": SECURITY_LABELS},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{_uuid(request_id)}"}],
        "status": "final",
        "subject": {"reference": course.patient_ref},
        "occurrenceDateTime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "method": {"coding": [{"system": MODEL_SYSTEM, "code": model.name, "version": model.version,
                               "display": f"{model.name} version {model.version}"}],
                   "text": f"{model.name} version {model.version} (sha256 {model.sha256[:12]})"},
        "basis": [{"reference": ref} for ref in course.basis],
        "prediction": [{
            "outcome": {"text": OUTCOME_TEXT},
            "probabilityDecimal": round(pred.relapse_probability_180d, 6),
            "qualitativeRisk": {"coding": [{"system": RISK_PROBABILITY, "code": pred.risk_band}]},
            "whenPeriod": {"start": end.isoformat(),
                           "end": (end + dt.timedelta(days=HORIZON_DAYS)).isoformat()},
            "rationale": rationale(pred),
        }],
        "extension": [_factor_extension(f) for f in pred.top_factors],
        # The not-for-patient-care warning first, while the model was trained on synthetic data.
        "note": [*([{"text": warning}] if warning else []), {"text": INTENDED_USE}],
    }
    RiskAssessment.model_validate(resource)  # never answer with an invalid resource
    return resource


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:32]}"
