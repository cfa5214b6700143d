"""The raw record contract: one definition of every field.

The pandera file schemas (`features.schemas`) and the pydantic request models
(`features.requests`) are both generated from these tuples, so a range or a
code changed here changes both, and they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "int", "float", "bool", "date", "category"]


@dataclass(frozen=True)
class FieldDef:
    """One column of a raw record file."""

    name: str
    kind: Kind
    description: str
    unit: str | None = None
    ge: float | None = None
    le: float | None = None
    codes: tuple[str, ...] | None = None
    required: bool = False
    loinc: str | None = None
    identifier: bool = False  # never logged, never echoed in an error

    @property
    def doc(self) -> str:
        parts = [self.description]
        if self.unit:
            parts.append(f"unit: {self.unit}")
        if self.ge is not None or self.le is not None:
            parts.append(f"range: {self.ge if self.ge is not None else ''}..{self.le if self.le is not None else ''}")
        if self.codes:
            parts.append("codes: " + "|".join(self.codes))
        if self.loinc:
            parts.append(f"LOINC {self.loinc}")
        return "; ".join(parts)


SEX_CODES = ("female", "male", "other")
EMPLOYMENT_CODES = ("employed", "unemployed", "retired", "student", "other")
THERAPY_CODES = ("mbrp", "met", "cbt", "education", "none")
SESSION_TYPE_CODES = ("infusion", "therapy")

F = FieldDef

INTAKE_FIELDS: tuple[FieldDef, ...] = (
    F("course_id", "str", "Treatment course identifier", required=True, identifier=True),
    F("patient_id", "str", "Patient identifier", required=True, identifier=True),
    F("site", "str", "Treating site code (never a model input)", required=True),
    F("intake_date", "date", "Date of the intake assessment", required=True),
    F("age_years", "int", "Age at intake", unit="years", ge=18, le=90, required=True),
    F("sex", "category", "Sex", codes=SEX_CODES, required=True),
    F("race_ethnicity", "str", "Self-reported race and ethnicity (fairness audits only, never a model input)"),
    F("employment", "category", "Employment status", codes=EMPLOYMENT_CODES),
    F("lives_alone", "bool", "Lives alone"),
    F("audit_total", "int", "AUDIT total score", unit="points", ge=0, le=40, loinc="75624-7"),
    F("drinks_per_week", "float", "Standard drinks per week before intake", unit="standard drinks/week", ge=0, le=400),
    F("heavy_drinking_days_90d", "int", "Heavy drinking days in the 90 days before intake", unit="days", ge=0, le=90),
    F("years_problem_drinking", "float", "Years of problem drinking", unit="years", ge=0, le=75),
    F("prior_detox_count", "int", "Prior medically managed withdrawals", unit="count", ge=0, le=100),
    F("prior_treatment_episodes", "int", "Prior treatment episodes for alcohol use", unit="count", ge=0, le=100),
    F("phq9_total", "int", "PHQ-9 depression total", unit="points", ge=0, le=27, loinc="44261-6"),
    F("gad7_total", "int", "GAD-7 anxiety total", unit="points", ge=0, le=21, loinc="70274-6"),
    F("pacs_total", "int", "Penn Alcohol Craving Scale total", unit="points", ge=0, le=30),
    F("ciwa_ar_total", "int", "CIWA-Ar withdrawal severity", unit="points", ge=0, le=67),
    F("smoker", "bool", "Current tobacco smoker"),
    F("other_substance_use", "bool", "Other substance use in the past year"),
    F("prior_ketamine_use", "bool", "Any prior ketamine use"),
    F("systolic_bp_mmhg", "float", "Systolic blood pressure at intake", unit="mmHg", ge=60, le=260),
    F("diastolic_bp_mmhg", "float", "Diastolic blood pressure at intake", unit="mmHg", ge=30, le=160),
    F("bmi", "float", "Body mass index", unit="kg/m2", ge=12, le=70),
    F("ggt_u_per_l", "float", "Gamma-glutamyl transferase", unit="U/L", ge=1, le=3000),
    F("therapy_type", "category", "Psychological therapy offered with the infusions", codes=THERAPY_CODES, required=True),
)

SESSION_FIELDS: tuple[FieldDef, ...] = (
    F("course_id", "str", "Treatment course identifier", required=True, identifier=True),
    F("session_number", "int", "Order of the session within the course", ge=1, le=100, required=True),
    F("session_date", "date", "Scheduled date of the session", required=True),
    F("session_type", "category", "Session type", codes=SESSION_TYPE_CODES, required=True),
    F("attended", "bool", "Session attended", required=True),
    F("ketamine_dose_mg_per_kg", "float", "Ketamine dose (infusions only)", unit="mg/kg", ge=0, le=2),
    F("infusion_minutes", "float", "Infusion duration (infusions only)", unit="min", ge=0, le=240),
    F("cadss_total", "float", "Dissociation (CADSS) total after infusion", unit="points", ge=0, le=92),
    F("meq30_mean", "float", "Mystical Experience Questionnaire mean", unit="points", ge=0, le=5),
    F("peak_systolic_bp_mmhg", "float", "Peak systolic blood pressure during infusion", unit="mmHg", ge=60, le=260),
    F("adverse_event", "bool", "Adverse event recorded at the session"),
    F("craving_vas", "float", "Craving visual analogue scale after the session", unit="points", ge=0, le=10),
    F("drinking_days_since_last_session", "int", "Drinking days since the previous session", unit="days", ge=0, le=120),
)

OUTCOME_FIELDS: tuple[FieldDef, ...] = (
    F("course_id", "str", "Treatment course identifier", required=True, identifier=True),
    F("course_end_date", "date", "Date of the course's last scheduled session", required=True),
    F("followup_end_date", "date", "Last date the patient was under follow-up", required=True),
    F("relapse_date", "date", "First heavy drinking day after course end; empty if none seen"),
    F("relapsed_180d", "bool", "Relapse within 180 days of course end; empty when censored before 180 days"),
)

RECORD_FIELDS: dict[str, tuple[FieldDef, ...]] = {
    "intake": INTAKE_FIELDS,
    "sessions": SESSION_FIELDS,
    "outcomes": OUTCOME_FIELDS,
}

HORIZON_DAYS = 180
