"""Patients, their courses, sites, intake dates and complete intake values.

Values here are the truth before any missingness: the risk function reads
them, then `synthetic.missing` blanks some out. Correlations come from three
latent factors per course (drinking severity, psychological distress, social
disadvantage), each shared in part by all courses of one patient.
"""

from __future__ import annotations

import numpy as np

from synthetic.mathutil import bernoulli, choice_rows, expit, logit
from synthetic.sites import LATE_THERAPY_SHIFT, SITES, THERAPIES, site_array

EPOCH = np.datetime64("1970-01-01", "D")
START_DAY = int((np.datetime64("2019-01-01", "D") - EPOCH).astype(int))
END_DAY = int((np.datetime64("2025-12-31", "D") - EPOCH).astype(int))
PANDEMIC = (
    int((np.datetime64("2020-03-15", "D") - EPOCH).astype(int)),
    int((np.datetime64("2021-12-31", "D") - EPOCH).astype(int)),
)
LATE_MIX_FROM = int((np.datetime64("2023-01-01", "D") - EPOCH).astype(int))
# Later courses start after the earlier follow-up (course <= 50 d, follow-up <= 380 d).
MIN_GAP_DAYS = 440
COURSES_PER_PATIENT_P = (0.90, 0.075, 0.025)


def _intake_day_weights() -> np.ndarray:
    """Daily intake volume: doubles 2019 -> 2025, halves in the first pandemic spring."""
    days = np.arange(START_DAY, END_DAY + 1)
    w = 1.0 + (days - START_DAY) / (END_DAY - START_DAY)
    w[(days >= PANDEMIC[0]) & (days < PANDEMIC[0] + 108)] *= 0.5
    return w / w.sum()


def _truncated_normal(rng: np.random.Generator, mean: np.ndarray, sd: float, lo: float,
                      hi: float) -> np.ndarray:
    out = rng.normal(mean, sd)
    bad = (out < lo) | (out > hi)
    while bad.any():  # resample the few outside; converges in a handful of rounds
        out[bad] = rng.normal(mean[bad], sd)
        bad = (out < lo) | (out > hi)
    return out


def make_courses(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Patients (1-3 courses each), site, intake day and patient-level latents, sorted by date."""
    per_patient = rng.choice(3, size=n, p=COURSES_PER_PATIENT_P) + 1
    cum = np.cumsum(per_patient)
    n_pat = int(np.searchsorted(cum, n) + 1)
    per_patient = per_patient[:n_pat]
    per_patient[-1] -= cum[n_pat - 1] - n  # trim the last patient so there are exactly n courses
    patient = np.repeat(np.arange(n_pat), per_patient)
    order = np.arange(n) - np.repeat(np.cumsum(per_patient) - per_patient, per_patient)

    gap = np.where(order > 0, MIN_GAP_DAYS + np.minimum(rng.gamma(2.0, 120.0, n), 500).astype(int), 0)
    starts = np.cumsum(per_patient) - per_patient
    cum_gap = np.cumsum(gap)
    offset = cum_gap - cum_gap[starts][patient]  # days from the patient's first intake
    chain = np.maximum.reduceat(offset, starts)  # at most 2 gaps of <= 940 days
    # First intake drawn from the volume curve, but early enough for the whole chain.
    cdf = np.cumsum(_intake_day_weights())
    limit = cdf[END_DAY - chain - START_DAY]
    first_day = START_DAY + np.searchsorted(cdf, rng.random(n_pat) * limit)
    intake_day = first_day[patient] + offset

    site_p = site_array("weight")
    site_of_patient = rng.choice(len(SITES), size=n_pat, p=site_p / site_p.sum())
    # Patient-level latents; each course adds its own part (unit variance overall).
    zp = rng.standard_normal((n_pat, 4))
    zc = rng.standard_normal((n, 4))
    share = np.array([0.75, 0.75, 0.85, 0.8])
    z = zp[patient] * share + zc * np.sqrt(1 - share**2)
    sex_u = rng.random(n_pat)
    age_first = _truncated_normal(rng, 44.1 + site_array("age_shift")[site_of_patient]
                                  - 0.3 * ((first_day - START_DAY) / 365.25 - 3.5), 10.6, 18, 75)

    sort = np.argsort(intake_day, kind="stable")  # files list courses in intake order
    return {
        "patient": patient[sort],
        "course_order": order[sort],
        "intake_day": intake_day[sort],
        "site": site_of_patient[patient][sort],
        "z_sev": z[sort, 0],
        "z_psy": z[sort, 1],
        "z_soc": z[sort, 2],
        "z_trait": z[sort, 3],  # openness to a mystical-type experience, craving reactivity
        "sex_u": sex_u[patient][sort],
        "age_exact": (age_first[patient] + (intake_day - first_day[patient]) / 365.25)[sort],
    }


def intake_values(c: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Complete (pre-missingness) intake values for every course."""
    n = len(c["site"])
    site = c["site"]
    years = (c["intake_day"] - START_DAY) / 365.25
    pandemic = (c["intake_day"] >= PANDEMIC[0]) & (c["intake_day"] <= PANDEMIC[1])
    z_sev = c["z_sev"] + site_array("severity_shift")[site] + 0.2 * pandemic
    z_psy, z_soc = c["z_psy"], c["z_soc"]
    age = np.floor(c["age_exact"]).astype(int)
    female_p = site_array("female")[site]
    sex = np.where(c["sex_u"] < female_p, 0, np.where(c["sex_u"] < female_p + 0.01, 2, 1))
    male = sex == 1

    # Employment: retired and student by age, then employed / unemployed / other.
    retired = bernoulli(rng, 0.85 * expit((age - 63) / 2.5))
    student = ~retired & bernoulli(rng, np.where(age < 25, 0.25, 0.01))
    p_emp = expit(1.0 + site_array("employed_shift")[site] - 0.8 * z_soc - 0.3 * z_sev)
    u = rng.random(n)
    employment = np.where(u < p_emp, 0, np.where(u < p_emp + 0.06 * (1 - p_emp), 4, 1))
    employment = np.where(retired, 2, np.where(student, 3, employment))
    unemployed = employment == 1
    lives_alone = bernoulli(rng, expit(-0.95 + 0.5 * z_soc + 0.02 * (age - 44)
                                        + 0.3 * unemployed + 0.3 * (site == 5)))

    # Drinking: about half of days heavy (KARE, Dakwar); drinks follow heavy days.
    p_heavy = expit(0.85 * z_sev + rng.normal(0, 0.5, n))
    hdd = rng.binomial(90, p_heavy)
    drinks_heavy_day = np.exp(np.log(11.0) + 0.15 * z_sev + rng.normal(0, 0.3, n))
    drinks_heavy_day *= np.where(male, 1.0, 0.8)
    light_days = rng.binomial(90 - hdd, 0.3)
    drinks_per_week = np.round((hdd * drinks_heavy_day + light_days * 2.5) / 90 * 7, 1)
    audit = np.clip(np.round(26 + 3.5 * z_sev + 0.8 * z_psy + rng.normal(0, 3, n)), 8, 40)
    years_problem = np.minimum(
        age - 15.0, rng.gamma(3.0, (np.maximum(age - 18, 1) * 0.45 + 3) / 3.0, n))
    years_problem = np.round(np.maximum(years_problem, 0.5), 1)
    frailty = rng.gamma(2.0, 0.5, n)  # over-dispersion of treatment counts
    detox = np.minimum(rng.poisson(np.exp(-0.3 + 0.55 * z_sev + 0.01 * (age - 44)) * frailty), 40)
    prior_tx = rng.poisson(np.exp(0.2 + 0.4 * z_sev + 0.015 * (age - 44)) * frailty)
    prior_tx = np.minimum(prior_tx + c["course_order"], 60)  # earlier ketamine courses count

    # Depression 42%, anxiety 46% (KARE), correlated through distress.
    depressed = 0.7 * z_psy + 0.714 * rng.standard_normal(n) > 0.202
    anxious = 0.7 * z_psy + 0.714 * rng.standard_normal(n) > 0.100
    phq9 = np.where(depressed, rng.normal(15.5, 4.5, n), rng.normal(6.0, 3.5, n)) + 0.8 * z_sev
    phq9 = np.clip(np.round(phq9), 0, 27)
    gad7 = np.clip(np.round(np.where(anxious, rng.normal(13, 4, n), rng.normal(5, 3, n))), 0, 21)
    pacs = np.clip(np.round(14 + 3.5 * z_sev + 1.2 * z_psy + 0.8 * c["z_trait"]
                            + rng.normal(0, 4, n)), 0, 30)
    # Outpatient ketamine candidates: withdrawal mostly mild at intake (CIWA-Ar < 10).
    ciwa = np.clip(np.round(rng.gamma(1.3, 3.5 * np.exp(0.3 * z_sev))), 0, 40)

    smoker = bernoulli(rng, expit(logit(0.38) + 0.5 * z_sev + 0.4 * z_soc - 0.01 * (age - 44)))
    other_sub = bernoulli(rng, expit(logit(0.25) + 0.4 * z_soc + 0.3 * z_sev - 0.03 * (age - 44)))
    p_ket = np.clip(0.10 + 0.012 * years, 0.05, 0.9)  # recreational ketamine use is rising
    prior_ket = bernoulli(rng, expit(logit(p_ket) + 0.5 * (age < 35) + 0.6 * (site == 3)))
    prior_ket |= c["course_order"] > 0

    sbp = np.clip(np.round(128 + 4 * z_sev + 0.35 * (age - 44) + 3 * male
                           + rng.normal(0, 14, n)), 85, 220)
    dbp = np.clip(np.round(82 + 0.4 * (sbp - 128) + rng.normal(0, 7, n)), 45, 130)
    bmi = np.clip(np.round(np.exp(np.log(27.0) + rng.normal(0, 0.17, n)), 1), 15, 60)
    ggt = np.exp(np.log(38.0) + 1.2 * (hdd / 90 - 0.5) + 0.2 * z_sev + rng.normal(0, 0.65, n))
    ggt = np.clip(np.round(ggt), 5, 2500)

    mix = np.array([s.therapy_mix for s in SITES])[site]
    late = c["intake_day"] >= LATE_MIX_FROM
    mix = np.where(late[:, None], np.clip(mix + LATE_THERAPY_SHIFT, 0.0, 1.0), mix)
    therapy = choice_rows(rng, mix)
    race = choice_rows(rng, np.array([s.race_mix for s in SITES])[site])

    return {
        "age_years": age, "sex": sex, "race": race, "employment": employment,
        "lives_alone": lives_alone, "audit_total": audit, "drinks_per_week": drinks_per_week,
        "heavy_drinking_days_90d": hdd, "years_problem_drinking": years_problem,
        "prior_detox_count": detox, "prior_treatment_episodes": prior_tx, "phq9_total": phq9,
        "gad7_total": gad7, "pacs_total": pacs, "ciwa_ar_total": ciwa, "smoker": smoker,
        "other_substance_use": other_sub, "prior_ketamine_use": prior_ket,
        "systolic_bp_mmhg": sbp, "diastolic_bp_mmhg": dbp, "bmi": bmi, "ggt_u_per_l": ggt,
        "therapy_type": therapy, "z_sev_site": z_sev,
    }


__all__ = ["THERAPIES", "make_courses", "intake_values"]
