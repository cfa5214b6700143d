"""The documented true risk of relapse to heavy drinking within 180 days.

It reads only values the records hold (intake values and session values as
recorded, before missingness blanks some), so a model on the files can get
close to it, except for the disparity scenario's unrecorded group effect.
Thresholds, hinges and interactions make it non-linear on purpose: a linear
model on the same inputs cannot represent it (docs/data_card.md measures
the gap). Coefficients live in `synthetic.effects`; docs/data_card.md writes
the same function out; keep the two in step.
"""

from __future__ import annotations

import numpy as np

from synthetic.effects import DEFAULT_EFFECTS, Effects
from synthetic.mathutil import expit

EDUCATION_THERAPY = 3
UNEMPLOYED = 1


def risk_terms(x: dict[str, np.ndarray], e: Effects = DEFAULT_EFFECTS) -> dict[str, np.ndarray]:
    """Each additive term of the relapse log-odds, by name."""
    phq9, pacs, age, audit = x["phq9_total"], x["pacs_total"], x["age_years"], x["audit_total"]
    att = x["therapy_attendance"]
    therapy_weight = np.where(x["therapy_type"] == EDUCATION_THERAPY, 0.5, 1.0)
    adequate_dose = x["dose_mean_mg_per_kg"] >= 0.7
    alone, unemployed = x["lives_alone"].astype(bool), x["employment"] == UNEMPLOYED
    depressed = phq9 >= 15  # a step, not a slope
    craving_high = np.maximum(x["craving_vas_last"] - 4.0, 0.0)
    drinking_late = x["drinking_days_last"] >= 2
    hdd = x["heavy_drinking_days_90d"]
    return {
        "depression": e.depression_step * depressed + e.depression_alone * (depressed & alone),
        "craving_intake": e.craving_intake_per_point * (pacs - 14) * (1 + depressed),
        "craving_last": e.craving_last_per_point * craving_high,
        "audit": e.audit_per_point * (audit - 26) + e.audit_very_high * (audit >= 32),
        "age": e.young_step * (age < 30) + e.age_per_year * (age - 44)
        + e.older_step * ((age >= 60) & alone),
        "withdrawal": e.withdrawal_step * (x["ciwa_ar_total"] >= 10),
        "therapy": e.therapy_full_attendance * therapy_weight * att,
        "ketamine": e.ketamine_per_mg_per_kg * x["dose_total_mg_per_kg"] * (att >= 0.6),
        "mystical": e.mystical_per_point * np.maximum(x["meq30_max"] - 2.5, 0.0) * adequate_dose,
        "prior_treatment": e.prior_treatment_log1p * np.log1p(x["prior_treatment_episodes"]),
        "social": e.lives_alone * alone + e.unemployed * unemployed
        + e.alone_and_unemployed * (alone & unemployed),
        "heavy_drinking": e.heavy_days_60_step * (hdd >= 60) + e.heavy_days_squared * (hdd / 90) ** 2,
        "drinking_late": drinking_late * (e.drinking_late_step
                                          + e.drinking_late_with_craving * (craving_high > 0)),
    }


def true_logit(x: dict[str, np.ndarray], site_offset: np.ndarray, time_offset: np.ndarray,
               e: Effects = DEFAULT_EFFECTS, disparity: np.ndarray | None = None) -> np.ndarray:
    """Relapse log-odds: intercept + patient terms + small site and time effects (+ disparity)."""
    logit = e.intercept + sum(risk_terms(x, e).values()) + site_offset + time_offset
    if disparity is not None:
        logit = logit + e.disparity_log_or * disparity
    return logit


def true_probability(logit_value: np.ndarray) -> np.ndarray:
    return expit(logit_value)
