"""The treating sites: case mix, therapy mix and infusion protocol of each.

Sites differ the way real services do (an academic trial-like clinic, a
community service, a private ketamine clinic, a veterans' programme...), so
site-level validation has something to find. Their direct effect on relapse
risk is kept small on purpose: site is never a model input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THERAPIES = ("mbrp", "met", "cbt", "education", "none")
RACES = (
    "White",
    "Black or African American",
    "Hispanic or Latino",
    "Asian",
    "American Indian or Alaska Native",
    "Two or more races",
    "Other",
)


@dataclass(frozen=True)
class Site:
    code: str
    description: str
    weight: float  # share of courses
    age_shift: float  # years, added to the KARE mean age
    female: float  # share female (sex "other" is 1% everywhere)
    employed_shift: float  # logit shift of being employed
    severity_shift: float  # shift of the latent drinking severity (SD units)
    attendance_shift: float  # logit shift of session attendance
    therapy_mix: tuple[float, ...]  # over THERAPIES, before 2023
    infusion_count_p: tuple[float, float, float]  # P(1, 2, 3 infusions)
    dose_mg_per_kg: float
    infusion_minutes: float
    race_mix: tuple[float, ...]  # over RACES; around the US treatment mix (SAMHSA TEDS)
    ggt_missing: float  # labs not drawn routinely at some services
    risk_offset: float  # small site effect on the relapse log-odds


SITES: tuple[Site, ...] = (
    Site("S01", "academic addiction clinic, KARE-like protocol", 0.22, 0.0, 0.42, 0.2, 0.0, 0.2,
         (0.55, 0.10, 0.15, 0.15, 0.05), (0.05, 0.07, 0.88), 0.80, 40.0,
         (0.55, 0.15, 0.17, 0.06, 0.01, 0.04, 0.02), 0.10, -0.05),
    Site("S02", "academic psychiatry, Dakwar-like protocol with MET", 0.15, -2.0, 0.40, 0.1, 0.1,
         0.1, (0.15, 0.55, 0.15, 0.10, 0.05), (0.25, 0.15, 0.60), 0.71, 52.0,
         (0.45, 0.20, 0.25, 0.05, 0.01, 0.03, 0.01), 0.10, 0.0),
    Site("S03", "community addiction service", 0.20, 2.0, 0.40, -0.4, 0.2, -0.2,
         (0.15, 0.10, 0.40, 0.30, 0.05), (0.10, 0.15, 0.75), 0.80, 40.0,
         (0.60, 0.16, 0.15, 0.02, 0.03, 0.03, 0.01), 0.30, 0.10),
    Site("S04", "private ketamine clinic", 0.13, -5.0, 0.45, 0.7, -0.2, 0.3,
         (0.25, 0.10, 0.30, 0.10, 0.25), (0.12, 0.10, 0.78), 0.75, 40.0,
         (0.68, 0.07, 0.12, 0.08, 0.01, 0.03, 0.01), 0.20, -0.08),
    Site("S05", "veterans' addiction programme", 0.16, 4.0, 0.14, -0.1, 0.1, 0.0,
         (0.15, 0.25, 0.45, 0.10, 0.05), (0.05, 0.10, 0.85), 0.80, 40.0,
         (0.62, 0.18, 0.12, 0.02, 0.02, 0.03, 0.01), 0.08, 0.05),
    Site("S06", "rural outpatient service", 0.14, 3.0, 0.37, -0.2, 0.15, -0.3,
         (0.15, 0.25, 0.20, 0.35, 0.05), (0.12, 0.15, 0.73), 0.80, 40.0,
         (0.84, 0.03, 0.05, 0.01, 0.05, 0.01, 0.01), 0.12, 0.05),
)

# After KARE (2022) services shift towards mindfulness-based relapse prevention.
LATE_THERAPY_SHIFT = np.array([0.10, 0.0, 0.0, -0.07, -0.03])


def site_array(attr: str) -> np.ndarray:
    """One attribute of every site, stacked (row i = SITES[i])."""
    return np.array([getattr(s, attr) for s in SITES], dtype=float)
