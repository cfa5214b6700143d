"""The model's feature list: names, human-readable labels and units, in one place.

The order here is the column order of every feature matrix; it is saved with
each exported model and checked when serving loads it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FeatureDef:
    name: str
    label: str
    unit: str = ""
    source: str = "intake"  # intake | sessions


_D = FeatureDef

INTAKE_NUMERIC = (
    _D("age_years", "Age", "years"),
    _D("audit_total", "AUDIT total score", "points 0-40"),
    _D("drinks_per_week", "Drinks per week before intake", "standard drinks"),
    _D("heavy_drinking_days_90d", "Heavy drinking days in the 90 days before intake", "days"),
    _D("years_problem_drinking", "Years of problem drinking", "years"),
    _D("prior_detox_count", "Prior medically managed withdrawals", "count"),
    _D("prior_treatment_episodes", "Prior treatment episodes", "count"),
    _D("phq9_total", "Depression (PHQ-9)", "points 0-27"),
    _D("gad7_total", "Anxiety (GAD-7)", "points 0-21"),
    _D("pacs_total", "Craving at intake (PACS)", "points 0-30"),
    _D("ciwa_ar_total", "Withdrawal severity (CIWA-Ar)", "points 0-67"),
    _D("systolic_bp_mmhg", "Systolic blood pressure at intake", "mmHg"),
    _D("diastolic_bp_mmhg", "Diastolic blood pressure at intake", "mmHg"),
    _D("bmi", "Body mass index", "kg/m2"),
    _D("ggt_u_per_l", "GGT", "U/L"),
)
INTAKE_FLAGS = (
    _D("lives_alone", "Lives alone", "yes=1"),
    _D("smoker", "Smoker", "yes=1"),
    _D("other_substance_use", "Other substance use", "yes=1"),
    _D("prior_ketamine_use", "Prior ketamine use", "yes=1"),
)
INTAKE_CODED = (
    _D("sex_female", "Female", "yes=1"),
    _D("sex_other", "Sex other", "yes=1"),
    _D("employed", "Employed", "yes=1"),
    _D("therapy_mbrp", "Therapy: mindfulness-based relapse prevention", "yes=1"),
    _D("therapy_met", "Therapy: motivational enhancement", "yes=1"),
    _D("therapy_cbt", "Therapy: CBT", "yes=1"),
    _D("therapy_education", "Therapy: education only", "yes=1"),
)
SESSION_FEATURES = tuple(
    _D(name, label, unit, "sessions")
    for name, label, unit in (
        ("infusions_scheduled", "Infusions scheduled", "count"),
        ("infusions_attended", "Infusions received", "count"),
        ("infusion_attendance", "Share of infusions received", "fraction"),
        ("ketamine_total_mg_per_kg", "Total ketamine received", "mg/kg"),
        ("infusion_minutes_mean", "Mean infusion duration", "min"),
        ("cadss_mean", "Mean dissociation (CADSS)", "points 0-92"),
        ("meq30_mean", "Mean mystical experience (MEQ-30)", "points 0-5"),
        ("meq30_max", "Strongest mystical experience (MEQ-30)", "points 0-5"),
        ("peak_systolic_bp_max", "Highest systolic BP during infusions", "mmHg"),
        ("therapy_sessions_scheduled", "Therapy sessions scheduled", "count"),
        ("therapy_sessions_attended", "Therapy sessions attended", "count"),
        ("therapy_attendance", "Share of therapy sessions attended", "fraction"),
        ("adverse_events", "Adverse events during the course", "count"),
        ("craving_vas_last", "Craving at the last session", "points 0-10"),
        ("craving_vas_change", "Change in craving over the course", "points"),
        ("drinking_days_during_course", "Drinking days during the course", "days"),
        ("drinking_days_last_interval", "Drinking days before the last session", "days"),
        ("course_length_days", "Course length (intake to course end)", "days"),
        ("days_since_last_attended", "Days from last attended session to course end", "days"),
    )
)

FEATURES: tuple[FeatureDef, ...] = INTAKE_NUMERIC + INTAKE_FLAGS + INTAKE_CODED + SESSION_FEATURES
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_LABELS: dict[str, str] = {f.name: f.label for f in FEATURES}
# Treatment the course delivered (ketamine, infusions, therapy and its attendance): shown as
# course exposures whose association with risk is observational, never as advice to change.
COURSE_EXPOSURES: frozenset[str] = frozenset({
    "therapy_mbrp", "therapy_met", "therapy_cbt", "therapy_education",
    "infusions_scheduled", "infusions_attended", "infusion_attendance",
    "ketamine_total_mg_per_kg", "infusion_minutes_mean", "therapy_sessions_scheduled",
    "therapy_sessions_attended", "therapy_attendance", "course_length_days",
    "days_since_last_attended"})


def feature_spec() -> dict:
    """The spec saved with a model; `spec_hash` changes when names or order change."""
    features = [asdict(f) for f in FEATURES]
    digest = hashlib.sha256(json.dumps(FEATURE_NAMES).encode()).hexdigest()[:16]
    return {"features": features, "spec_hash": digest}
