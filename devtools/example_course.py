"""The made-up demo course as a /score request (docs, tests, benchmarks, `make serve`)."""

from __future__ import annotations

EXAMPLE_COURSE = {
    "intake": {
        "course_id": "C-DEMO-1", "patient_id": "P-DEMO-1", "site": "S1",
        "intake_date": "2025-03-03", "age_years": 44, "sex": "male", "employment": "employed",
        "lives_alone": True, "audit_total": 28, "drinks_per_week": 60,
        "heavy_drinking_days_90d": 48, "years_problem_drinking": 12, "prior_detox_count": 2,
        "prior_treatment_episodes": 1, "phq9_total": 16, "gad7_total": 11, "pacs_total": 18,
        "ciwa_ar_total": 9, "smoker": True, "other_substance_use": False,
        "prior_ketamine_use": False, "systolic_bp_mmhg": 134, "diastolic_bp_mmhg": 86, "bmi": 26.4,
        "ggt_u_per_l": 95, "therapy_type": "mbrp",
    },
    "sessions": [
        {"course_id": "C-DEMO-1", "session_number": i + 1, "session_date": date,
         "session_type": kind, "attended": attended,
         **({"ketamine_dose_mg_per_kg": 0.8, "infusion_minutes": 40, "cadss_total": 9,
             "meq30_mean": 2.1, "peak_systolic_bp_mmhg": 148} if kind == "infusion" and attended
            else {}),
         "craving_vas": craving if attended else None, "drinking_days_since_last_session": drink}
        for i, (date, kind, attended, craving, drink) in enumerate([
            ("2025-03-10", "infusion", True, 6, 3), ("2025-03-12", "therapy", True, 5, 1),
            ("2025-03-17", "infusion", True, 4, 1), ("2025-03-19", "therapy", False, None, 0),
            ("2025-03-24", "infusion", True, 3, 0), ("2025-03-26", "therapy", True, 3, 0),
            ("2025-04-02", "therapy", True, 2, 0),
        ])
    ],
}


def example_request() -> dict:
    return {"courses": [EXAMPLE_COURSE]}
