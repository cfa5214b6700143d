"""Realistic missingness, applied after the true risk was drawn.

Rates are per field (not sentinels: a missing value is NaN here and empty in
the files). Mostly completely at random; GGT depends on the site (some
services do not draw labs routinely), PHQ-9 and GAD-7 go missing together
(one questionnaire packet), and so do systolic and diastolic pressure.
Required fields of features/fields.py are never blanked.
"""

from __future__ import annotations

import numpy as np

from synthetic.sites import site_array

INTAKE_MISSING = {
    "race": 0.10, "employment": 0.03, "lives_alone": 0.02, "audit_total": 0.02,
    "drinks_per_week": 0.04, "heavy_drinking_days_90d": 0.02, "years_problem_drinking": 0.05,
    "prior_detox_count": 0.03, "prior_treatment_episodes": 0.03, "pacs_total": 0.08,
    "ciwa_ar_total": 0.05, "smoker": 0.02, "other_substance_use": 0.03,
    "prior_ketamine_use": 0.05, "bmi": 0.05,
}
JOINT_INTAKE_MISSING = (
    (("phq9_total", "gad7_total"), 0.04),
    (("systolic_bp_mmhg", "diastolic_bp_mmhg"), 0.02),
)
# Among attended sessions (non-attended sessions have no measurements at all).
SESSION_MISSING = {
    "cadss_total": 0.02, "meq30_mean": 0.05, "peak_systolic_bp_mmhg": 0.02,
    "adverse_event": 0.01, "craving_vas": 0.03, "drinking_days_since_last_session": 0.04,
}
INFUSION_FIELDS = ("ketamine_dose_mg_per_kg", "infusion_minutes", "cadss_total", "meq30_mean",
                   "peak_systolic_bp_mmhg")


def blank_intake(v: dict[str, np.ndarray], site: np.ndarray,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Float copies of the intake values with NaN where unknown."""
    n = len(site)
    out = {k: np.asarray(a, dtype=float).copy() for k, a in v.items()}
    for name, rate in INTAKE_MISSING.items():
        out[name][rng.random(n) < rate] = np.nan
    for names, rate in JOINT_INTAKE_MISSING:
        gone = rng.random(n) < rate
        for name in names:
            out[name][gone] = np.nan
    out["ggt_u_per_l"][rng.random(n) < site_array("ggt_missing")[site]] = np.nan
    return out


def blank_sessions(s: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Float copies of the session measurements: empty when not measured or not recorded."""
    m = len(s["course"])
    att, inf = s["attended"], s["is_infusion_attended"]
    out = {}
    for name in (*INFUSION_FIELDS, "adverse_event", "craving_vas",
                 "drinking_days_since_last_session"):
        keep = inf if name in INFUSION_FIELDS else att
        col = np.where(keep, np.asarray(s[name], dtype=float), np.nan)
        col[rng.random(m) < SESSION_MISSING.get(name, 0.0)] = np.nan
        out[name] = col
    return out
