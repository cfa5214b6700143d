"""HTTP request and response models for /score (request fields come from features/)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from features.course_status import (
    NOT_ENDED_MESSAGE,
    NOT_ENDED_RULE,
    course_has_ended,
    utc_today,
)
from features.requests import CourseRecord

MAX_COURSES = 1000


class ScoreRequest(BaseModel):
    """Courses to score. Outcome fields are refused: they must never reach a prediction."""

    # Rejected values never appear in error text, logs included (42 CFR Part 2).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    courses: list[CourseRecord] = Field(min_length=1, max_length=MAX_COURSES,
                                        description="1 to 1,000 courses, each intake + sessions")

    @model_validator(mode="after")
    def _unique_courses(self) -> ScoreRequest:
        ids = [c.intake.course_id for c in self.courses]
        if len(set(ids)) != len(ids):
            raise ValueError("courses: duplicate course_id")
        _refuse_unended(self.courses, "courses")
        return self


def _refuse_unended(courses: list[CourseRecord], field: str) -> None:
    """Only ended courses get a final score (features/course_status.py, UTC dates)."""
    today = utc_today()  # one request date for all its courses (and one clock read)
    for i, c in enumerate(courses):
        if not course_has_ended([s.session_date for s in c.sessions], as_of=today):
            # "<field>: ..." lets the 422 name the field (serving/validation_errors.py).
            where = f"{field}: {field}[{i}]: " if field == "courses" else f"{field}: "
            raise PydanticCustomError(NOT_ENDED_RULE, where + NOT_ENDED_MESSAGE)


FACTOR_NOTE = ("Factors are associations the model learned, not the causes of this patient's "
               "risk; "
               "course exposures (ketamine, infusions, therapy and attendance) describe the "
               "course received and are not advice to change treatment.")


class ModelInfo(BaseModel):
    name: str
    version: str
    sha256: str = Field(description="sha256 of the exported artifact's manifest")
    training_data: Literal["synthetic", "records", "unknown"] = Field(
        description="What the served version was trained on: 'synthetic' (make data output), "
        "'records' (real records) or 'unknown' (a version exported before this was recorded)")


class TopFactor(BaseModel):
    feature: str = Field(description="Feature name")
    label: str = Field(description="Human-readable feature name")
    value: float | None = Field(description="The patient's value (unit in the feature list)")
    shap_log_odds: float = Field(description="Contribution to the calibrated log-odds")
    direction: Literal["raises", "lowers"]
    course_exposure: bool = Field(description="True for treatment the course delivered: an "
                                  "association, never advice to change treatment")


class InputWarning(BaseModel):
    kind: Literal["missing", "outside_training_range", "unlike_training_courses"] = Field(
        description="missing: not recorded; outside_training_range: beyond the training data's "
        "range for that input; unlike_training_courses: the combination of values is unlike "
        "the training courses (Mahalanobis check, all inputs)")
    feature: str | None = Field(description="The input concerned (None: the whole course)")
    message: str


class CalibrationInterval(BaseModel):
    """With confidence `level`, among courses given this probability the relapse rate within
    180 days lies between low and high: the calibration curve at this probability, estimated
    on the validation part (IPCW-weighted, so approximate). Not a range for this patient's
    own risk."""

    low: float = Field(ge=0, le=1, description="lower confidence limit of the relapse rate "
                       "among courses given this probability")
    high: float = Field(ge=0, le=1, description="upper confidence limit of that rate")
    level: float = Field(gt=0, lt=1, description="confidence level, e.g. 0.95")
    n_courses: int = Field(ge=0, description="labelled validation courses the curve was "
                           "estimated on")


class BandObserved(BaseModel):
    """What the course's risk band means and what was observed in it."""

    meaning: str = Field(description="The decision the band's cut points stand for "
                         "(stated harm:benefit ratio)")
    observed_relapse_rate: float = Field(ge=0, le=1, description="IPCW-weighted share of the "
                                         "model's test-part courses in this band that relapsed "
                                         "within 180 days")
    low: float = Field(ge=0, le=1, description="Lower end of its 95% patient-bootstrap interval")
    high: float = Field(ge=0, le=1, description="Upper end of its 95% patient-bootstrap interval")
    n_courses: int = Field(description="Test-part courses in the band")


class Prediction(BaseModel):
    course_id: str
    relapse_probability_180d: float = Field(ge=0, le=1, description="Calibrated probability of a "
                                            "first heavy drinking day within 180 days")
    risk_band: Literal["low", "moderate", "high"]
    top_factors: list[TopFactor]
    base_log_odds: float = Field(description="base + sum of all contributions = logit(probability)")
    input_warnings: list[InputWarning] = Field(description="Missing inputs, inputs outside the "
                                               "training range, an unusual combination")
    calibration_interval: CalibrationInterval | None = Field(
        None, description="With confidence `level`, among courses given this probability the "
        "relapse rate within 180 days lies between low and high (the calibration curve, "
        "approximate under censoring); not a range for this patient's own risk. Absent for "
        "versions without one")
    band_observed: BandObserved | None = Field(
        None, description="The band's meaning and its observed relapse rate on the test part "
        "with a 95% interval; absent for versions without one")
    relapse_risk_curve: dict[str, float] | None = Field(
        None, description="Days after course end (30, 90, 180) -> model-based cumulative risk of "
        "a first heavy drinking day; the 180-day value is relapse_probability_180d itself; "
        "absent for versions without a curve")


class ScoreResponse(BaseModel):
    request_id: str
    model: ModelInfo
    warning: str | None = Field(description="Present while the model was not trained on real "
                                "records: the score is not for patient care")
    factor_note: str = Field(FACTOR_NOTE, description="How to read top_factors")
    predictions: list[Prediction]


class ExplainRequest(BaseModel):
    """One course to explain in full."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    course: CourseRecord

    @model_validator(mode="after")
    def _ended(self) -> ExplainRequest:
        _refuse_unended([self.course], "course")
        return self


class Contribution(BaseModel):
    feature: str
    label: str
    value: float | None = Field(description="The patient's value (None: missing)")
    shap_log_odds: float = Field(description="Contribution to the calibrated log-odds")
    course_exposure: bool = Field(description="True for treatment the course delivered")


class ExplainResponse(BaseModel):
    request_id: str
    model: ModelInfo
    warning: str | None = Field(description="Present while the model was not trained on real "
                                "records: the score is not for patient care")
    factor_note: str = Field(FACTOR_NOTE, description="How to read the contributions")
    course_id: str
    relapse_probability_180d: float = Field(ge=0, le=1)
    risk_band: Literal["low", "moderate", "high"]
    base_log_odds: float = Field(description="base + sum of contributions = logit(probability)")
    contributions: list[Contribution] = Field(description="Every feature, largest |SHAP| first")
    input_warnings: list[InputWarning]
