"""Code systems and the field <-> FHIR mapping (docs/fhir_mapping.md publishes this table).

LOINC where a code exists; otherwise a local code system whose codes are the
field names of the raw record contract (features/fields.py). The local
canonical URLs are placeholders for the deploying organisation's own.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
LOCAL = "https://relapse-risk.example.org/fhir/CodeSystem/course-inputs"
THERAPY_TYPE = "https://relapse-risk.example.org/fhir/CodeSystem/therapy-type"
MODEL_SYSTEM = "https://relapse-risk.example.org/fhir/CodeSystem/model"
FACTOR_EXT = "https://relapse-risk.example.org/fhir/StructureDefinition/shap-factor"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

KETAMINE_RXNORM = "6130"
PSYCHOTHERAPY_SNOMED = "75516001"
THERAPY_SESSION = "therapy-session"  # local code for a therapy Encounter or Procedure

# intake field -> (system, code) of its Observation
INTAKE_OBSERVATIONS: dict[str, tuple[str, str]] = {
    "audit_total": (LOINC, "75624-7"),
    "phq9_total": (LOINC, "44261-6"),
    "gad7_total": (LOINC, "70274-6"),
    "bmi": (LOINC, "39156-5"),
    "systolic_bp_mmhg": (LOINC, "8480-6"),
    "diastolic_bp_mmhg": (LOINC, "8462-4"),
    "ggt_u_per_l": (LOINC, "2324-2"),
    **{name: (LOCAL, name) for name in (
        "drinks_per_week", "heavy_drinking_days_90d", "years_problem_drinking",
        "prior_detox_count", "prior_treatment_episodes", "pacs_total", "ciwa_ar_total",
        "smoker", "other_substance_use", "prior_ketamine_use", "lives_alone", "employment")},
}

# session field -> local code of an Observation linked to the session (partOf / encounter)
SESSION_OBSERVATIONS: dict[str, tuple[str, str]] = {
    name: (LOCAL, name) for name in (
        "cadss_total", "meq30_mean", "peak_systolic_bp_mmhg", "adverse_event", "craving_vas",
        "drinking_days_since_last_session")
}

# Security labels for substance use disorder data (42 CFR Part 2, HL7 v3 codes).
SECURITY_LABELS = [
    {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"},
    {"system": ACT_CODE, "code": "ETH", "display": "substance abuse information sensitivity"},
    {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {"system": ACT_CODE, "code": "NORDSCLCD",
     "display": "no redisclosure without consent directive"},
]

# FHIR resource -> field rows of the published table (resource, element, field, note)
STRUCTURAL_MAPPING: list[tuple[str, str, str, str]] = [
    ("Patient", "id", "patient_id", "pseudonymised before it reaches the audit trail"),
    ("Patient", "birthDate", "age_years", "whole years at EpisodeOfCare.period.start"),
    ("Patient", "gender", "sex", "male, female, other; unknown is refused"),
    ("EpisodeOfCare", "id", "course_id", "one course per Bundle"),
    ("EpisodeOfCare", "period.start", "intake_date", ""),
    ("EpisodeOfCare", "managingOrganization", "site", "reference id, else `unknown`"),
    ("EpisodeOfCare", "type (therapy-type system)", "therapy_type",
     "mbrp, met, cbt, education, none"),
    ("MedicationAdministration", "medicationCodeableConcept RxNorm 6130", "infusion session",
     "status completed/in-progress/stopped = attended, not-done = missed"),
    ("MedicationAdministration", "effectiveDateTime / effectivePeriod.start", "session_date", ""),
    ("MedicationAdministration", "effectivePeriod end - start", "infusion_minutes", "minutes"),
    ("MedicationAdministration", "dosage.dose (unit mg/kg)", "ketamine_dose_mg_per_kg", ""),
    ("Encounter", "episodeOfCare -> the course", "therapy session",
     "status finished/arrived/in-progress = attended; planned/cancelled = not attended"),
    ("Encounter", "period.start", "session_date", ""),
    ("Procedure", f"code SNOMED {PSYCHOTHERAPY_SNOMED} or local {THERAPY_SESSION}",
     "therapy session", "status completed/in-progress = attended; preparation/not-done = not"),
    ("Procedure", "performedDateTime / performedPeriod.start", "session_date", ""),
]
