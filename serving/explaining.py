"""The /explain answer: every feature's contribution for one served course."""

from __future__ import annotations

import numpy as np

from features.spec import COURSE_EXPOSURES, FEATURE_LABELS, FEATURE_NAMES
from serving.pipeline import Served
from serving.schemas import Contribution, ExplainResponse


def explain_response(served: Served) -> ExplainResponse:
    scored = served.scored
    (pred,) = scored.predictions
    row = scored.features.matrix[0]
    shap = scored.explained.contributions[0]
    order = np.argsort(-np.abs(shap), kind="stable")
    return ExplainResponse(
        request_id=served.request_id, model=served.model, warning=served.warning,
        course_id=pred.course_id,
        relapse_probability_180d=pred.relapse_probability_180d, risk_band=pred.risk_band,
        base_log_odds=pred.base_log_odds,
        contributions=[Contribution(feature=FEATURE_NAMES[j], label=FEATURE_LABELS[FEATURE_NAMES[j]],
                                    value=None if np.isnan(row[j]) else float(row[j]),
                                    shap_log_odds=float(shap[j]),
                                    course_exposure=FEATURE_NAMES[j] in COURSE_EXPOSURES)
                       for j in order],
        input_warnings=pred.input_warnings,
    )
