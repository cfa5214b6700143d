"""Scheduled sessions of each course: dates, attendance and what was measured.

A course is 1-3 weekly ketamine infusions (KARE: 0.8 mg/kg over 40 min x3;
Dakwar 2020: 0.71 mg/kg over 52 min) plus the sessions of its therapy spread
over 3-5 weeks. Attendance falls with risk (younger, unemployed, more
severe), and some patients drop out; sessions after drop-out stay scheduled
but are not attended, so the course end (last scheduled session) is unchanged.
"""

from __future__ import annotations

import numpy as np

from synthetic.mathutil import bernoulli, expit, group_starts, logit
from synthetic.sites import site_array

INFUSION, THERAPY = 0, 1
EMPLOYED, UNEMPLOYED = 0, 1
# Therapy code -> (choices of session count, probabilities). KARE: 7 sessions of MBRP
# or of alcohol education; MET after Dakwar 2020 is shorter; "none" has no sessions.
THERAPY_SESSION_COUNTS = (
    ((6, 7, 8), (0.1, 0.8, 0.1)),  # mbrp
    ((4, 5, 6), (0.3, 0.4, 0.3)),  # met
    ((6, 7, 8), (1 / 3, 1 / 3, 1 / 3)),  # cbt
    ((6, 7, 8), (0.1, 0.8, 0.1)),  # education
    ((0,), (1.0,)),  # none
)


def _draw_counts(rng: np.random.Generator, therapy: np.ndarray) -> np.ndarray:
    out = np.zeros(len(therapy), dtype=int)
    for code, (counts, probs) in enumerate(THERAPY_SESSION_COUNTS):
        rows = np.flatnonzero(therapy == code)
        out[rows] = rng.choice(counts, size=len(rows), p=probs)
    return out


def _within(course: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """0-based position of each row within its course (rows grouped by course)."""
    return np.arange(len(course)) - np.repeat(np.cumsum(counts) - counts, counts)


def schedule(c: dict[str, np.ndarray], v: dict[str, np.ndarray],
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One row per scheduled session, sorted by course then date; all values complete."""
    n = len(c["site"])
    site = c["site"]
    inf_p = np.array([s for s in site_array("infusion_count_p").reshape(-1, 3)])[site]
    n_inf = 1 + (rng.random(n)[:, None] > np.cumsum(inf_p, axis=1)[:, :2]).sum(axis=1)
    n_ther = _draw_counts(rng, v["therapy_type"])
    delay = rng.integers(3, 15, n)  # intake -> first session
    span = rng.integers(21, 36, n)  # first -> last therapy session

    inf_course = np.repeat(np.arange(n), n_inf)
    k = _within(inf_course, n_inf)
    inf_off = 7 * k + np.where(k > 0, rng.integers(-1, 2, len(k)), 0)
    th_course = np.repeat(np.arange(n), n_ther)
    j = _within(th_course, n_ther)
    last = np.maximum(n_ther[th_course] - 1, 1)
    th_off = np.round(1 + j * (span[th_course] - 1) / last).astype(int)
    interior = (j > 0) & (j < n_ther[th_course] - 1)
    th_off += np.where(interior, rng.integers(-1, 2, len(j)), 0)

    course = np.r_[inf_course, th_course]
    offset = np.r_[inf_off, th_off]
    stype = np.r_[np.full(len(inf_course), INFUSION), np.full(len(th_course), THERAPY)]
    index_in_type = np.r_[k, j]
    order = np.argsort(course * 1024 + offset * 2 + stype, kind="stable")  # infusion first on ties
    course, offset, stype, index_in_type = (a[order] for a in (course, offset, stype, index_in_type))
    counts = np.bincount(course, minlength=n)
    number = _within(course, counts) + 1
    day = c["intake_day"][course] + delay[course] + offset
    course_end = np.maximum.reduceat(day, group_starts(course))

    # Attendance: engagement per course, plus drop-out part-way through.
    age = v["age_years"]
    employed = v["employment"] == EMPLOYED
    engage = (site_array("attendance_shift")[site] + 0.6 * employed - 0.35 * c["z_soc"]
              - 0.3 * v["z_sev_site"] + 0.02 * (age - 44) - 0.3 * v["other_substance_use"]
              + rng.normal(0, 0.8, n))
    p_att = np.where(stype == INFUSION, expit(2.6 + engage[course]),
                     expit(1.6 + engage[course] - 0.05 * index_in_type))
    p_drop = expit(-2.2 + 0.45 * v["z_sev_site"] + 0.4 * c["z_soc"] - 0.02 * (age - 44)
                   - 0.5 * employed)
    dropped = bernoulli(rng, p_drop)
    drop_day = np.where(dropped, c["intake_day"] + delay + rng.uniform(0.15, 1.0, n)
                        * (course_end - c["intake_day"] - delay), np.inf)
    attended = bernoulli(rng, p_att) & (day <= drop_day[course])

    # Infusion measurements, drawn only for attended infusions (NaN elsewhere).
    is_inf = attended & (stype == INFUSION)
    m = len(course)
    ii = np.flatnonzero(is_inf)
    n_meas = len(ii)
    ci = course[ii]
    dose = site_array("dose_mg_per_kg")[site][ci] * (1 + rng.normal(0, 0.03, n_meas))
    dose *= np.where(rng.random(n_meas) < 0.05, rng.uniform(0.6, 0.8, n_meas), 1.0)  # reduced for BP/AE
    dose = np.clip(np.round(dose, 2), 0.1, 1.2)
    minutes = site_array("infusion_minutes")[site][ci] + rng.normal(0, 3, n_meas)
    minutes = np.round(minutes + np.where(rng.random(n_meas) < 0.03, rng.uniform(10, 30, n_meas), 0.0))
    trait_i = c["z_trait"][ci]
    # CADSS: zero-inflated, mean ~8, SD ~9 at 0.8 mg/kg; more dissociation with dose.
    cadss_zero = bernoulli(rng, expit(logit(0.25) - 2.0 * (dose - 0.8)))
    cadss = rng.gamma(1.6, 6.7 * dose / 0.8 * np.exp(0.2 * trait_i))
    cadss = np.clip(np.round(np.where(cadss_zero, 0.0, cadss)), 0, 92)
    meq = np.clip(0.3 + 1.3 * dose / 0.8 + 0.035 * cadss + 0.45 * trait_i + rng.normal(0, 0.5, n_meas),
                  0, 5).round(2)
    peak_sbp = np.clip(np.round(v["systolic_bp_mmhg"][ci] + 14 + 0.2 * cadss
                                + rng.normal(0, 8, n_meas)), 90, 240)
    adverse = rng.random(m) < 0.01  # therapy sessions
    adverse[ii] = bernoulli(rng, expit(logit(0.07) + 1.0 * (peak_sbp > 180) + 0.03 * (cadss - 8)))

    def on_infusions(values: np.ndarray) -> np.ndarray:
        full = np.full(m, np.nan)
        full[ii] = values
        return full

    # Craving after the session and drinking days since the last attended contact.
    starts = group_starts(course)
    cum_inf = np.cumsum(is_inf)
    cum_inf -= np.repeat(cum_inf[starts] - is_inf[starts], counts[counts > 0])
    span_all = np.maximum(course_end - c["intake_day"] - delay, 1)[course]
    progress = (day - c["intake_day"][course] - delay[course]) / span_all
    vas = (1.8 + 0.17 * v["pacs_total"][course] + 0.5 * v["z_sev_site"][course]
           + 0.6 * c["z_trait"][course]
           - 1.2 * progress - 0.35 * cum_inf + rng.normal(0, 1.0, m))
    vas = np.clip(vas, 0, 10).round(1)
    big = 1 << 20  # course * big + day stays sortable across courses
    marker = course * big + np.where(attended, day, 0)
    prev = np.r_[0, marker[:-1]]
    prev[starts] = course[starts] * big + c["intake_day"][course[starts]]
    prev_contact = np.maximum.accumulate(prev) - course * big
    gap = day - prev_contact
    hdd_frac = np.clip(v["heavy_drinking_days_90d"] / 90, 0.03, 0.97)[course]
    p_drink = expit(logit(hdd_frac) - 1.0 - 0.3 * cum_inf - 0.5 * progress
                    + 0.4 * c["z_trait"][course])
    drink_days = np.minimum(rng.binomial(gap, p_drink), 120)

    return {
        "course": course, "session_number": number, "session_day": day, "session_type": stype,
        "attended": attended, "is_infusion_attended": is_inf,
        "ketamine_dose_mg_per_kg": on_infusions(dose), "infusion_minutes": on_infusions(minutes),
        "cadss_total": on_infusions(cadss), "meq30_mean": on_infusions(meq),
        "peak_systolic_bp_mmhg": on_infusions(peak_sbp), "adverse_event": adverse,
        "craving_vas": vas, "drinking_days_since_last_session": drink_days,
        "course_end_day": course_end, "n_sessions": counts,
    }


def course_summary(s: dict[str, np.ndarray], v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-course exposure from the recorded (pre-missingness) session values."""
    n = len(s["n_sessions"])
    course, att, inf = s["course"], s["attended"], s["is_infusion_attended"]
    ther = s["session_type"] == THERAPY
    n_ther = np.bincount(course, weights=ther, minlength=n)
    n_ther_att = np.bincount(course, weights=ther & att, minlength=n)
    n_inf_att = np.bincount(course, weights=inf, minlength=n)
    dose_total = np.bincount(course[inf], weights=s["ketamine_dose_mg_per_kg"][inf], minlength=n)
    meq_max = np.zeros(n)
    np.maximum.at(meq_max, course[inf], s["meq30_mean"][inf])
    rows = np.arange(len(course))
    last_att = np.full(n, -1)
    np.maximum.at(last_att, course[att], rows[att])
    vas_last = np.where(last_att >= 0, s["craving_vas"][np.maximum(last_att, 0)],
                        v["pacs_total"] / 3.0)  # nothing attended: intake craving, same scale
    drink_last = np.where(last_att >= 0,
                          s["drinking_days_since_last_session"][np.maximum(last_att, 0)], 0)
    return {
        "therapy_attendance": np.divide(n_ther_att, n_ther, out=np.zeros(n), where=n_ther > 0),
        "attendance": np.bincount(course, weights=att, minlength=n) / s["n_sessions"],
        "n_infusions_attended": n_inf_att,
        "dose_total_mg_per_kg": dose_total,
        "dose_mean_mg_per_kg": np.divide(dose_total, n_inf_att, out=np.zeros(n),
                                         where=n_inf_att > 0),
        "meq30_max": meq_max,
        "craving_vas_last": vas_last,
        "drinking_days_last": drink_last,  # drinking days before the last attended session
    }
