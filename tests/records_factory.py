"""Small hand-made record sets for unit tests (the synthetic generator covers bulk)."""

from __future__ import annotations

import pandas as pd


def intake_row(course_id: str = "C1", **over) -> dict:
    row = {
        "course_id": course_id, "patient_id": "P" + course_id[1:], "site": "S1",
        "intake_date": "2024-01-02", "age_years": "45", "sex": "female", "race_ethnicity": "",
        "employment": "employed", "lives_alone": "false", "audit_total": "26",
        "drinks_per_week": "55", "heavy_drinking_days_90d": "40", "years_problem_drinking": "10",
        "prior_detox_count": "1", "prior_treatment_episodes": "2", "phq9_total": "12",
        "gad7_total": "9", "pacs_total": "15", "ciwa_ar_total": "8", "smoker": "true",
        "other_substance_use": "false", "prior_ketamine_use": "false", "systolic_bp_mmhg": "130",
        "diastolic_bp_mmhg": "84", "bmi": "27.1", "ggt_u_per_l": "80", "therapy_type": "mbrp",
    }
    row.update(over)
    return row


def session_rows(course_id: str = "C1", start: str = "2024-01-08") -> list[dict]:
    day0 = pd.Timestamp(start)
    plan = [("infusion", True, 6, 3), ("therapy", True, 5, 1), ("infusion", True, 4, 2),
            ("therapy", False, None, 1), ("infusion", False, None, 0), ("therapy", True, 2, 0)]
    rows = []
    for i, (kind, attended, craving, drink) in enumerate(plan):
        infused = kind == "infusion" and attended
        rows.append({
            "course_id": course_id, "session_number": str(i + 1),
            "session_date": (day0 + pd.Timedelta(days=4 * i)).strftime("%Y-%m-%d"),
            "session_type": kind, "attended": str(attended).lower(),
            "ketamine_dose_mg_per_kg": "0.8" if infused else "",
            "infusion_minutes": "40" if infused else "", "cadss_total": "7" if infused else "",
            "meq30_mean": "2.5" if infused else "", "peak_systolic_bp_mmhg": "150" if infused else "",
            "adverse_event": "false", "craving_vas": "" if craving is None else str(craving),
            "drinking_days_since_last_session": str(drink),
        })
    return rows


def outcome_row(course_id: str = "C1", course_end: str = "2024-01-28", **over) -> dict:
    row = {"course_id": course_id, "course_end_date": course_end, "followup_end_date": "2025-01-20",
           "relapse_date": "2024-03-01", "relapsed_180d": "true"}
    row.update(over)
    return row


def frames(n: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ids = [f"C{i}" for i in range(1, n + 1)]
    intake = pd.DataFrame([intake_row(c) for c in ids], dtype="str")
    sessions = pd.DataFrame([r for c in ids for r in session_rows(c)], dtype="str")
    outcomes = pd.DataFrame([outcome_row(c) for c in ids], dtype="str")
    return intake, sessions, outcomes


def write_folder(path, intake: pd.DataFrame, sessions: pd.DataFrame, outcomes: pd.DataFrame):
    path.mkdir(parents=True, exist_ok=True)
    intake.to_csv(path / "intake.csv", index=False)
    sessions.to_csv(path / "sessions.csv", index=False)
    outcomes.to_csv(path / "outcomes.csv", index=False)
    return path
