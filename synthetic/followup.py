"""Time to the first heavy drinking day, loss to follow-up, and the outcome rows.

The relapse time is Weibull with a decreasing hazard (most relapses come
early), scaled per course so that P(T <= 180 d) is exactly the true
probability. Loss to follow-up is Weibull (front-loaded) with a hazard that rises for
younger, unemployed, poorly attending and higher-risk patients, so complete
cases are biased and IPCW on recorded covariates can correct it.
"""

from __future__ import annotations

import numpy as np

from features.fields import HORIZON_DAYS
from synthetic.population import EPOCH

WEIBULL_SHAPE = 0.8
LOGLOGISTIC_SHAPE = 1.3  # hazard rises for the first weeks, then falls: not a Weibull
RELAPSE_TIME_FAMILIES = ("weibull", "loglogistic")
MAX_RELAPSE_DAY = 3650  # "not within ten years"; keeps dates finite
PLANNED_FOLLOWUP_DAYS = 365
EXTRACT_DAY = int((np.datetime64("2026-06-30", "D") - EPOCH).astype(int))  # data pulled
LOSS_SCALE_DAYS = 1400.0  # Weibull scale of the time to loss to follow-up (baseline patient)
LOSS_SHAPE = 0.7  # losses come early: most who drop out do so in the first months
UNEMPLOYED = 1


def relapse_day(p: np.ndarray, rng: np.random.Generator, family: str = "weibull") -> np.ndarray:
    """Days from course end to the first heavy drinking day (1 = the day after).

    Either family is scaled per course so that F(180) = p exactly.
    """
    p = np.clip(p, 1e-6, 1 - 1e-6)
    if family == "weibull":
        scale = HORIZON_DAYS / (-np.log1p(-p)) ** (1 / WEIBULL_SHAPE)
        t = scale * rng.exponential(1.0, len(p)) ** (1 / WEIBULL_SHAPE)
    elif family == "loglogistic":  # F(t) = 1 / (1 + (t / scale) ** -shape)
        scale = HORIZON_DAYS / (p / (1 - p)) ** (1 / LOGLOGISTIC_SHAPE)
        u = np.clip(rng.random(len(p)), 1e-12, 1 - 1e-12)
        t = scale * (u / (1 - u)) ** (1 / LOGLOGISTIC_SHAPE)
    else:
        raise ValueError(f"relapse time family must be one of {RELAPSE_TIME_FAMILIES}")
    return np.minimum(np.ceil(t), MAX_RELAPSE_DAY).astype(int)


def followup_days(course_end: np.ndarray, x: dict[str, np.ndarray], logit_risk: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(days of follow-up after course end, lost-to-follow-up flag)."""
    n = len(course_end)
    age = x["age_years"]
    relative_hazard = np.exp(
        0.35 * (age < 30) - 0.015 * (age - 44) + 0.5 * (x["employment"] == UNEMPLOYED)
        + 1.2 * (1 - x["attendance"]) + 0.35 * (logit_risk - logit_risk.mean())
        + 0.3 * x["other_substance_use"])
    # Proportional hazards: cumulative hazard (t / scale) ** shape * relative_hazard.
    loss = LOSS_SCALE_DAYS * (rng.exponential(1.0, n) / relative_hazard) ** (1 / LOSS_SHAPE)
    loss = np.floor(np.minimum(loss, 10 * PLANNED_FOLLOWUP_DAYS)).astype(int)
    planned = PLANNED_FOLLOWUP_DAYS + rng.integers(-14, 15, n)  # visit window
    days = np.minimum(loss, planned)
    days = np.minimum(days, EXTRACT_DAY - course_end)  # administrative end
    return np.maximum(days, 0), loss < planned


def outcomes(course_end: np.ndarray, relapse: np.ndarray,
             fu_days: np.ndarray) -> dict[str, np.ndarray]:
    """Observed outcome columns (day numbers; NaN / -1 where unknown) and the censored flag."""
    seen = relapse <= fu_days
    within = relapse <= HORIZON_DAYS
    # True if seen within 180 d, False if followed 180 d without relapse, else unknown (-1).
    label = np.where(seen & within, 1, np.where(fu_days >= HORIZON_DAYS, 0, -1))
    return {
        "course_end_day": course_end,
        "followup_end_day": course_end + fu_days,
        "relapse_day_abs": np.where(seen, course_end + relapse, -1),
        "relapsed_180d": label,
        "censored": label == -1,
    }


def site_time_offset(course_end: np.ndarray, start_day: int, pandemic: tuple[int, int]
                     ) -> np.ndarray:
    """Small drift of the relapse log-odds: worse in the pandemic, slowly better over years."""
    years = (course_end - start_day) / 365.25
    in_pandemic = (course_end >= pandemic[0]) & (course_end <= pandemic[1])
    return 0.15 * in_pandemic - 0.02 * years

