"""The documented true risk of relapse to heavy drinking within 180 days.

It reads only values the records hold (intake values and session values as
recorded, before missingness blanks some), so a model on the files can get
close to it. It is deliberately non-linear, with thresholds and interactions
a linear model on the same inputs cannot represent. docs/data_card.md writes
the same function out; keep the two in step.
"""

from __future__ import annotations

import numpy as np

from synthetic.mathutil import expit

INTERCEPT = 0.2
SCALE = 0.82  # multiplies every patient term; tunes the oracle AUROC
EDUCATION_THERAPY = 3
UNEMPLOYED = 1


def risk_terms(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each additive term of the relapse log-odds (before SCALE), by name."""
    phq9, pacs, age = x["phq9_total"], x["pacs_total"], x["age_years"]
    att = x["therapy_attendance"]
    # Psychological therapy helps in proportion to attendance; education half as much.
    therapy_weight = np.where(x["therapy_type"] == EDUCATION_THERAPY, 0.5, 1.0)
    adequate_dose = x["dose_mean_mg_per_kg"] >= 0.7
    alone, unemployed = x["lives_alone"], x["employment"] == UNEMPLOYED
    depressed = phq9 >= 15  # moderately severe depression: a step, not a slope
    return {
        "depression": 0.85 * depressed,
        # Craving at intake matters twice as much in depressed patients.
        "craving_intake": 0.04 * (pacs - 14) * (1 + depressed),
        "craving_last": 0.45 * np.maximum(x["craving_vas_last"] - 4.0, 0.0),
        "age": 0.55 * (age < 30) - 0.008 * (age - 44),
        "withdrawal": 0.5 * (x["ciwa_ar_total"] >= 10),
        "therapy": -0.6 * therapy_weight * att,
        # Ketamine helps only when most therapy sessions were attended (KARE: with therapy).
        "ketamine": -0.35 * x["dose_total_mg_per_kg"] * (att >= 0.6),
        "mystical": -0.8 * np.maximum(x["meq30_max"] - 2.5, 0.0) * adequate_dose,
        "prior_treatment": 0.35 * np.log1p(x["prior_treatment_episodes"]),
        "social": 0.15 * alone + 0.2 * unemployed + 0.6 * (alone & unemployed),
        "heavy_drinking": 0.8 * (x["heavy_drinking_days_90d"] >= 60)
        + 0.6 * (x["heavy_drinking_days_90d"] / 90) ** 2,
    }


def true_logit(x: dict[str, np.ndarray], site_offset: np.ndarray,
               time_offset: np.ndarray) -> np.ndarray:
    """Relapse log-odds: intercept + SCALE * patient terms + small site and time effects."""
    patient = sum(risk_terms(x).values())
    return INTERCEPT + SCALE * patient + site_offset + time_offset


def true_probability(logit_value: np.ndarray) -> np.ndarray:
    return expit(logit_value)
