"""The relapse-risk card: summary, indicator from the risk band, Markdown detail, source."""

from __future__ import annotations

from typing import Any

from serving.fhir.risk_assessment import FACTOR_NOTE, INTENDED_USE
from serving.schemas import ModelInfo, Prediction

# The indicator follows what each band means (training/bands.py): only "high" calls for an
# action beyond usual aftercare (an extra relapse-prevention contact), so only it warns;
# nothing here is an emergency, so no band is "critical".
INDICATOR = {"low": "info", "moderate": "info", "high": "warning"}
OVERRIDE_REASONS = [
    {"code": "not-relevant", "display": "Not relevant to this patient"},
    {"code": "already-planned", "display": "Aftercare already planned"},
    {"code": "disagree", "display": "Disagree with the estimate"},
]
REASON_SYSTEM = "https://relapse-risk.example.org/fhir/CodeSystem/override-reason"


def card_uuid(request_id: str) -> str:
    h = request_id
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def relapse_card(pred: Prediction, model: ModelInfo, request_id: str,
                 warning: str | None = None) -> dict[str, Any]:
    pct = round(100 * pred.relapse_probability_180d)
    demo = "DEMO, not for care: " if warning else ""
    summary = (f"{demo}Relapse risk {pct}% ({pred.risk_band}) within 180 days after the "
               "ketamine course")
    rows = "\n".join(f"| {f.label} | {'raises' if f.direction == 'raises' else 'lowers'} | "
                     f"{f.shap_log_odds:+.2f} |" for f in pred.top_factors)
    kinds = {w.kind for w in pred.input_warnings}
    warnings = ""
    if "missing" in kinds or "outside_training_range" in kinds:
        warnings += ("\n\nInputs missing or outside the training data: "
                     f"{sum(w.feature is not None for w in pred.input_warnings)} "
                     "(the estimate is less certain).")
    if "unlike_training_courses" in kinds:
        warnings += ("\n\nThis combination of values is unlike the training courses: the "
                     "estimate may not apply.")
    band = (f"\n\nBand meaning: {pred.band_observed.meaning}; observed relapse rate in this band "
            f"{pred.band_observed.observed_relapse_rate:.0%} (95% CI "
            f"{pred.band_observed.low:.0%} to {pred.band_observed.high:.0%})."
            if pred.band_observed else "")
    caution = f"**{warning}**\n\n" if warning else ""
    detail = (f"{caution}**Estimated probability of relapse to heavy drinking within 180 days:** {pct}% "
              f"({pred.risk_band} risk band).\n\n| factor | effect | log-odds |\n| --- | --- | --- |\n"
              f"{rows}\n\n*{FACTOR_NOTE}*{band}{warnings}\n\nIntended use: {INTENDED_USE}")
    return {
        "uuid": card_uuid(request_id),
        "summary": summary[:139],
        "indicator": INDICATOR[pred.risk_band],
        "detail": detail,
        "source": {"label": f"{model.name} model version {model.version}"},
        "overrideReasons": [{"system": REASON_SYSTEM, **r} for r in OVERRIDE_REASONS],
    }
