"""generate(n, seed): the whole synthetic cohort, raw files plus the oracle.

Steps, each with its own random stream (so changing one step does not
reshuffle the others): population -> intake values -> sessions -> true
risk -> relapse time and follow-up -> missingness -> typed frames -> bad rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.fields import (
    EMPLOYMENT_CODES,
    HORIZON_DAYS,
    INTAKE_FIELDS,
    OUTCOME_FIELDS,
    SESSION_FIELDS,
    SESSION_TYPE_CODES,
    SEX_CODES,
    THERAPY_CODES,
)
from synthetic import followup, risk
from synthetic.corrupt import corrupt_values, plan_rows
from synthetic.effects import DEFAULT_EFFECTS, Effects
from synthetic.frames import bool_column, frame, ids, int_column, iso_dates, take_text, text
from synthetic.missing import blank_intake, blank_sessions
from synthetic.population import PANDEMIC, START_DAY, intake_values, make_courses
from synthetic.sessions import course_summary, schedule
from synthetic.sites import RACES, SITES, THERAPIES, site_array

assert THERAPIES == THERAPY_CODES  # the generator's therapy order is the contract's


@dataclass(frozen=True)
class Cohort:
    """Raw record frames as written, the oracle truth and the list of injected bad rows."""

    intake: pd.DataFrame
    sessions: pd.DataFrame
    outcomes: pd.DataFrame
    oracle: pd.DataFrame
    injected_errors: pd.DataFrame
    effects: Effects = DEFAULT_EFFECTS
    relapse_time: str = "weibull"

    def summary(self) -> dict[str, float]:
        o = self.oracle
        return {
            "courses": len(o),
            "patients": int(self.intake["patient_id"].nunique()),
            "intake_rows": len(self.intake),
            "session_rows": len(self.sessions),
            "outcome_rows": len(self.outcomes),
            "injected_errors": len(self.injected_errors),
            "true_relapse_rate_180d": float(o["true_relapsed_180d"].mean()),
            "censoring_rate": float(o["censored"].mean()),
            "observed_relapse_rate_labelled": float(
                self.outcomes["relapsed_180d"].astype("float64").mean()),
            "oracle_auroc": auroc(o["true_relapsed_180d"].to_numpy(),
                                  o["true_probability_180d"].to_numpy()),
        }


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Rank-based AUROC (Mann-Whitney), ties averaged; avoids importing sklearn in the CLI."""
    y = np.asarray(y, dtype=bool)
    ranks = pd.Series(score).rank(method="average").to_numpy()
    pos = y.sum()
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def generate(n: int, seed: int, effects: Effects = DEFAULT_EFFECTS,
             relapse_time: str = "weibull") -> Cohort:
    """Generate n courses deterministically from seed.

    `effects` sets the true risk's coefficients (synthetic.effects); `relapse_time` the
    family of the time to relapse ("weibull", or "loglogistic" to check a Weibull-family
    survival model on data it does not assume). Neither changes the random streams.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if effects.disparity_group and effects.disparity_group not in RACES:
        raise ValueError(f"disparity group must be one of {RACES}")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    r_pop, r_intake, r_sess, r_time, r_loss, r_miss, r_ids, r_bad = streams

    c = make_courses(n, r_pop)
    v = intake_values(c, r_intake)
    s = schedule(c, v, r_sess)
    x = {**v, **course_summary(s, v)}
    end = s["course_end_day"]
    in_group = (np.asarray(RACES)[v["race"]] == effects.disparity_group
                if effects.disparity_group else np.zeros(n, dtype=bool))
    true_logit = risk.true_logit(x, site_array("risk_offset")[c["site"]],
                                 followup.site_time_offset(end, START_DAY, PANDEMIC),
                                 effects, in_group)
    p = risk.true_probability(true_logit)
    relapse = followup.relapse_day(p, r_time, relapse_time)
    fu_days, _ = followup.followup_days(end, x, true_logit, r_loss)
    out = followup.outcomes(end, relapse, fu_days)
    vi = blank_intake(v, c["site"], r_miss)
    vs = blank_sessions(s, r_miss)

    width = max(7, len(str(2 * n + 10)))
    course_numbers = r_ids.permutation(n) + 1  # opaque: not in date order
    patient_numbers = r_ids.permutation(int(c["patient"].max()) + 1) + 1
    site_codes = tuple(site.code for site in SITES)
    # Inserted bad rows are planned first, so each frame is built once, rows in place.
    plan = plan_rows(n, s["course"], n + 1 + int(r_ids.integers(0, n + 1)), r_bad)
    ic = plan.intake_course
    si = plan.session_source
    sc = s["course"][si]

    intake = frame({
        **{k: a[ic] for k, a in vi.items()},
        "course_id": text(ids("C", course_numbers[ic], width)),
        "patient_id": text(ids("P", patient_numbers[c["patient"][ic]], width)),
        "site": take_text(site_codes, c["site"][ic]),
        "intake_date": iso_dates(c["intake_day"][ic]),
        "sex": take_text(SEX_CODES, vi["sex"][ic]),
        "race_ethnicity": take_text(RACES, vi["race"][ic]),
        "employment": take_text(EMPLOYMENT_CODES, vi["employment"][ic]),
        "therapy_type": take_text(THERAPY_CODES, vi["therapy_type"][ic]),
    }, INTAKE_FIELDS)
    session_numbers = np.where(plan.session_unknown > 0, plan.session_unknown, course_numbers[sc])
    sessions = frame({
        **{k: a[si] for k, a in vs.items()},
        "course_id": text(ids("C", session_numbers, width)),
        "session_number": int_column(s["session_number"][si]),
        "session_date": iso_dates(s["session_day"][si]),
        "session_type": take_text(SESSION_TYPE_CODES, s["session_type"][si]),
        "attended": bool_column(s["attended"][si]),
    }, SESSION_FIELDS)
    course_ids = ids("C", course_numbers, width)
    relapsed = out["relapsed_180d"].astype(float)
    outcomes = frame({
        "course_id": text(course_ids),
        "course_end_date": iso_dates(out["course_end_day"]),
        "followup_end_date": iso_dates(out["followup_end_day"]),
        "relapse_date": iso_dates(out["relapse_day_abs"]),
        "relapsed_180d": bool_column(np.where(relapsed < 0, np.nan, relapsed)),
    }, OUTCOME_FIELDS)
    oracle = pd.DataFrame({
        "course_id": text(course_ids),
        "true_probability_180d": np.round(p, 6),
        "true_relapsed_180d": relapse <= HORIZON_DAYS,
        "true_relapse_day": relapse,
        "censored": out["censored"],
        "disparity_group": in_group,
    })
    errors = corrupt_values(intake, sessions, outcomes, plan, s["course"], r_bad)
    return Cohort(intake, sessions, outcomes, oracle, errors, effects, relapse_time)
