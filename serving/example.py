"""Example /score and FHIR requests (a made-up course) and how to get a token: `make serve`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=Path("var/example_request.json"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(example_request(), indent=2))
    from serving.fhir.example import example_bundle  # here: serving.fhir imports this module

    bundle = args.out.with_name("example_bundle.json")
    bundle.write_text(json.dumps(example_bundle(), indent=2))
    url = f"http://127.0.0.1:{args.port}"
    print(f"\nServing on {url}  (OpenAPI /docs.json, health /healthz /readyz)")
    print("Every other route needs a bearer token; a development one (signed with the secret")
    print("generated under var/keys/) comes from `make token ROLE=clinician` (or auditor, admin).")
    print("Example requests (a made-up course):\n")
    print("  TOKEN=$(make -s token ROLE=clinician)")
    print(f"  curl -s -X POST {url}/score -H \"Authorization: Bearer $TOKEN\" \\\n"
          f"       -H 'Content-Type: application/json' -d @{args.out}")
    print(f"  curl -s -X POST '{url}/fhir/RiskAssessment/$score' -H \"Authorization: Bearer "
          f"$TOKEN\" \\\n       -H 'Content-Type: application/fhir+json' -d @{bundle}\n")


if __name__ == "__main__":
    main()
