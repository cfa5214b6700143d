"""Monotone constraints where the direction is clinically settled (and the data card agrees).

+1: a higher value never lowers the predicted risk; -1: never raises it. Only directions
with clinical consensus are constrained; age (non-monotone: a step under 30 and a slope),
ketamine dose and mystical experience (effects conditional on attendance and dose, and the
research question itself) stay free.
"""

from __future__ import annotations

from features.spec import FEATURE_NAMES

MONOTONE: dict[str, tuple[int, str]] = {
    "heavy_drinking_days_90d": (1, "more heavy drinking before treatment never lowers risk"),
    "phq9_total": (1, "more severe depression never lowers risk"),
    "pacs_total": (1, "more craving at intake never lowers risk"),
    "craving_vas_last": (1, "more craving at the end of the course never lowers risk"),
    "ciwa_ar_total": (1, "more severe withdrawal never lowers risk"),
    "prior_treatment_episodes": (1, "more earlier treatment episodes never lower risk"),
    "therapy_attendance": (-1, "attending more of the offered therapy never raises risk"),
}


def monotone_constraints() -> str:
    """XGBoost's `monotone_constraints` string in FEATURE_NAMES order."""
    unknown = set(MONOTONE) - set(FEATURE_NAMES)
    if unknown:
        raise ValueError(f"monotone constraints name unknown features: {sorted(unknown)}")
    return "(" + ",".join(str(MONOTONE.get(n, (0, ""))[0]) for n in FEATURE_NAMES) + ")"
